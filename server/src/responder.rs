//! The deterministic local responder that stands in for a language model:
//! no network, same input, same reply.

/// Writes the assistant's reply to `message`, given how many messages the
/// conversation already held.
pub fn reply(message: &str, earlier_messages: usize) -> String {
    let words = message.split_whitespace().count();
    let mut excerpt: String = message.chars().take(80).collect();
    if excerpt.len() < message.len() {
        excerpt.push('…');
    }
    match earlier_messages {
        0 => format!("Hello! You said \"{excerpt}\" ({words} words). This is a new conversation."),
        n => format!(
            "You said \"{excerpt}\" ({words} words). I remember {n} earlier message{} in this conversation.",
            if n == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::reply;

    #[test]
    fn reply_mentions_the_history_it_remembers() {
        assert!(reply("hi there", 0).contains("new conversation"));
        assert!(reply("hi", 1).contains("1 earlier message "));
        assert!(reply("hi", 4).contains("4 earlier messages"));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(200);
        let r = reply(&long, 0);
        assert!(r.contains('…'));
    }
}
