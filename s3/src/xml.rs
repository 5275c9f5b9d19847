//! The few S3 XML documents we read and write, through a small element tree.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Depth of XML element nesting accepted (S3 documents use four levels).
pub const MAX_XML_DEPTH: usize = 32;

/// One XML element: its local name, its text and its child elements.
#[derive(Debug, Default)]
pub struct Element {
    /// Local name (namespace prefix dropped).
    pub name: String,
    /// Concatenated text content (unescaped).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Parses a document into its root element. Elements nest at most
/// [`MAX_XML_DEPTH`] deep (so a hostile answer cannot build a tree
/// whose recursive drop overflows the stack).
pub fn parse(doc: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(doc);
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("XML: {e}"))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(format!(
                        "XML: elements nested deeper than {}",
                        MAX_XML_DEPTH
                    ));
                }
                stack.push(Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                })
            }
            Event::Empty(start) => {
                let el = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    let t = text.decode().map_err(|e| format!("XML text: {e}"))?;
                    let t =
                        quick_xml::escape::unescape(&t).map_err(|e| format!("XML text: {e}"))?;
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| format!("XML entity: {e}"))?;
                    let entity = format!("&{name};");
                    let t = quick_xml::escape::unescape(&entity)
                        .map_err(|e| format!("XML entity: {e}"))?;
                    top.text.push_str(&t);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("XML: unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Eof => return Err("XML: document ended early".into()),
            _ => {}
        }
        buf.clear();
    }
}

/// Escapes text for an XML element body.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_listing_with_entities() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><IsTruncated>true</IsTruncated>
  <Contents><Key>a&amp;b &lt;1&gt;</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>
  <Contents><Key>c</Key><Size>0</Size></Contents>
  <NextContinuationToken>tok/=</NextContinuationToken>
  <Prefix/>
</ListBucketResult>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(root.name, "ListBucketResult");
        let keys: Vec<_> = root
            .all("Contents")
            .map(|c| c.text_of("Key").unwrap_or_default())
            .collect();
        assert_eq!(keys, ["a&b <1>", "c"]);
        let first = root.child("Contents").expect("contents");
        assert_eq!(first.text_of("ETag"), Some("\"abc\""));
        assert_eq!(root.text_of("NextContinuationToken"), Some("tok/="));
        assert_eq!(root.text_of("Prefix"), Some(""));
    }

    #[test]
    fn truncated_document_is_an_error() {
        assert!(parse(b"<Error><Code>Slow").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let depth = 100_000;
        let doc = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        assert!(parse(doc.as_bytes()).is_err());
        let ok = format!("{}{}", "<a>".repeat(8), "</a>".repeat(8));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn hostile_documents_are_errors() {
        for doc in [
            &b""[..],
            b"<a>",
            b"</a>",
            b"<a></b>",
            b"<a>&unknown;</a>",
            b"<a>&#xFFFFFFFF;</a>",
            b"\xff\xfe<a/>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        ] {
            let _ = parse(doc);
        }
    }

    #[test]
    fn escape_round_trips() {
        let s = "\"etag\" & <x>";
        let doc = format!("<A>{}</A>", escape(s));
        assert_eq!(parse(doc.as_bytes()).expect("parses").text, s);
    }
}
