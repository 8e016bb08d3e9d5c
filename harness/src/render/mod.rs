//! The primitives every report kind shares: number and text formatting for
//! people ([`text`]), Markdown cells ([`markdown`]), JUnit XML documents
//! ([`junit_xml`], through quick-junit), charts as inline SVG ([`chart`],
//! through plotters), the frame of every HTML page ([`page`]), and the one
//! path by which pages reach the disk ([`files`]). `report` (a run) and
//! `repro` (a scenario) lay out their own pages with these, so a percentage,
//! an escaped cell or a test case reads the same everywhere.

pub mod chart;
pub mod files;
pub mod junit_xml;
pub mod markdown;
pub mod page;
pub mod text;
