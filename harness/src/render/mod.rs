//! The rendering layer every report kind shares: number and text formatting
//! for people ([`text`]), Markdown cells ([`markdown`]) and JUnit XML
//! ([`junit`], through quick-junit), charts as inline SVG ([`chart`], through
//! plotters), the frame of every HTML page ([`page`]), and the
//! self-contained history view ([`history_html`]). `report` (a fire run) and `repro` (a
//! scenario) lay out their own pages with these, so a percentage, an escaped
//! cell or a test case reads the same everywhere.

pub mod chart;
pub mod history_html;
pub mod junit;
pub mod markdown;
pub mod page;
pub mod text;
