//! `links --svg`: the dot graph laid out and drawn by `layout-rs` (no
//! Graphviz needed).

use crate::output::Failure;
use devlink_core::ErrorKind;
use layout::backends::svg::SVGWriter;
use layout::gv::{DotParser, GraphBuilder};

/// The most links `--svg` lays out (see `inspect::links`).
pub const MAX_LINKS: usize = 120;

/// Renders Graphviz dot text to a standalone SVG document.
pub fn render(dot: &str) -> Result<String, Failure> {
    let graph = DotParser::new(dot).process().map_err(|e| {
        Failure::new(
            ErrorKind::InvalidInput,
            format!("the link graph could not be parsed for drawing: {e}"),
        )
    })?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    if visual.num_nodes() == 0 {
        // The layout needs at least one node; draw an empty picture.
        return Ok(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"40\">\
             <text x=\"10\" y=\"25\">no device links</text></svg>\n"
                .to_string(),
        );
    }
    let mut svg = SVGWriter::new();
    visual.do_it(false, false, false, &mut svg);
    Ok(svg.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_nodes_and_edges() {
        let svg = super::render("digraph g { \"a:x\" -> \"b\" [label=\"active\"]; }").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("a:x") && svg.contains("active"), "{svg}");
    }

    #[test]
    fn empty_graph_is_a_picture_too() {
        assert!(super::render("digraph g { }")
            .unwrap()
            .contains("no device links"));
    }
}
