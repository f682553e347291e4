mod common;
use common::*;
use devlink_core::*;

#[test]
fn unbinding_a_supplier_removes_consumers_first() {
    let b = Bench::new();
    let (a, _) = b.bound("a");
    let (bb, _) = b.bound("b");
    let (c, _) = b.bound("c");
    b.core.link_add(&bb, &a, LinkFlags::empty()).unwrap();
    b.core.link_add(&c, &bb, LinkFlags::empty()).unwrap();
    b.log.take();
    block_on(b.core.unbind(&a)).unwrap();
    assert_eq!(
        b.log.with_prefix("remove:"),
        [
            "remove:platform:c",
            "remove:platform:b",
            "remove:platform:a"
        ]
    );
}
