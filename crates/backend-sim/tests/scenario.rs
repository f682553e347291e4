use backend_sim::{ProbeOutcome, RandomDag, Scenario, ScenarioError, SimClock, SimDriver};
use devlink_core::{DevState, ErrorKind, LinkFlags, LinkState, Module};
use futures::executor::block_on;
use proptest::prelude::*;
use std::sync::Arc;

const BOARD: &str = r#"
[core]
fw_devlink = "on"

[[fwnode]]
path = "/soc/clk"
compatible = "clk"

[[fwnode]]
path = "/soc/pmic"
compatible = "pmic"
suppliers = ["/soc/clk"]

[[driver]]
name = "clk"

[[driver]]
name = "pmic"
probe = ["defer", "ok"]
latency_us = 40

[[driver]]
name = "sensor"
latency_us = 10

[[device]]
name = "soc:clk"
fwnode = "/soc/clk"

[[device]]
name = "soc:pmic"
fwnode = "/soc/pmic"

[[device]]
name = "1-0050"
bus = "i2c"
compatible = "sensor"
parent = "platform:soc:pmic"

[[link]]
consumer = "i2c:1-0050"
supplier = "soc:pmic"
flags = ["AUTOREMOVE_CONSUMER", "dl_flag_pm_runtime"]
"#;

#[test]
fn a_board_builds_with_fw_devlink_links_and_scripted_probes() {
    let sc = Scenario::parse(BOARD).unwrap();
    assert_eq!(sc.counts(), (3, 3, 1));
    let board = block_on(sc.build()).unwrap();
    let pmic = board.device("platform:soc:pmic").unwrap();
    let clk = board.device("soc:clk").unwrap();
    let sensor = board.device("1-0050").unwrap();
    // fw_devlink turned the hint into a link, and the pmic bound after its
    // scripted deferral.
    let fw = board.core.find_link(pmic, clk).expect("fw_devlink link");
    assert!(fw.flags().unwrap().contains(LinkFlags::INFERRED));
    assert_eq!(pmic.state(), DevState::DriverBound);
    assert_eq!(board.drivers["pmic"].probes(), 2);
    assert_eq!(sensor.state(), DevState::DriverBound);
    let link = &board.links[0];
    assert_eq!(link.state().unwrap(), LinkState::Active);
    assert_eq!(
        link.flags().unwrap(),
        LinkFlags::AUTOREMOVE_CONSUMER | LinkFlags::PM_RUNTIME | LinkFlags::MANAGED
    );
    // Virtual time: two pmic probes and one sensor probe.
    assert_eq!(board.clock.now(), std::time::Duration::from_micros(90));
}

fn err(text: &str) -> ScenarioError {
    Scenario::parse(text).unwrap_err()
}

#[test]
fn malformed_toml_names_line_and_column() {
    let e = err("[[device]]\nname = \"x\"\nbus = \n");
    let msg = e.to_string();
    assert!(msg.contains("line 3"), "{msg}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let msg = err("[[device]]\nname = \"x\"\nbuss = \"i2c\"\n").to_string();
    assert!(msg.contains("buss"), "{msg}");
}

#[test]
fn references_to_undeclared_objects_name_both_sides() {
    let cases = [
        (
            "[[device]]\nname = \"a\"\n[[link]]\nconsumer = \"a\"\nsupplier = \"ghost\"\n",
            "\"ghost\" is not a declared device",
        ),
        (
            "[[device]]\nname = \"a\"\nparent = \"b\"\n[[device]]\nname = \"b\"\n",
            "parent \"b\" is not a device declared before it",
        ),
        (
            "[[device]]\nname = \"a\"\nfwnode = \"/x\"\n",
            "fwnode \"/x\" is not declared",
        ),
        (
            "[[fwnode]]\npath = \"/a\"\nsuppliers = [\"/b\"]\n",
            "supplier \"/b\" is not a declared fwnode",
        ),
        ("[[fwnode]]\npath = \"a\"\n", "a path is absolute"),
        ("[[device]]\nname = \"a\"\n[[device]]\nname = \"a\"\n", "declared twice"),
        ("[[driver]]\nname = \"d\"\nprobe = [\"maybe\"]\n", "unknown probe outcome \"maybe\""),
        ("[core]\nfw_devlink = \"strict\"\n", "unknown mode \"strict\""),
        (
            "[[device]]\nname = \"a\"\n[[device]]\nname = \"b\"\n[[link]]\nconsumer = \"a\"\nsupplier = \"b\"\nflags = [\"AUTOREMOVE\"]\n",
            "unknown link flag \"AUTOREMOVE\"",
        ),
    ];
    for (text, want) in cases {
        let msg = err(text).to_string();
        assert!(
            msg.contains(want),
            "for {text:?}: got {msg:?}, want {want:?}"
        );
    }
}

#[test]
fn a_missing_file_is_a_clear_no_device_error() {
    let e = Scenario::load("/definitely/not/here.toml").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(e.to_string().contains("/definitely/not/here.toml"));
}

#[test]
fn a_link_the_core_refuses_fails_the_build_naming_the_link() {
    let text = "[[device]]\nname = \"a\"\n[[device]]\nname = \"b\"\n\
                [[link]]\nconsumer = \"a\"\nsupplier = \"b\"\n\
                [[link]]\nconsumer = \"b\"\nsupplier = \"a\"\n";
    let e = block_on(Scenario::parse(text).unwrap().build()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("link 2"), "{msg}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn sim_driver_scripts_outcomes_then_succeeds() {
    let clock = SimClock::new();
    let core = devlink_core::DriverCore::new().unwrap();
    let module = Module::new("m");
    let drv = Arc::new(
        SimDriver::new("x", &clock).with_outcomes([ProbeOutcome::Fail, ProbeOutcome::Defer]),
    );
    block_on(core.driver_register(&module, drv.clone())).unwrap();
    let d = core.device("x").bus("platform").compatible("x").create();
    block_on(core.device_add(&d)).unwrap();
    assert_eq!(d.state(), DevState::NoDriver);
    let e = block_on(core.bind(&d)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Deferred);
    block_on(core.bind(&d)).unwrap();
    assert_eq!(drv.probes(), 3);
    block_on(core.unbind(&d)).unwrap();
    assert_eq!(drv.removes(), 1);
}

#[test]
fn random_dags_are_acyclic_distinct_and_reproducible() {
    for shuffled in [false, true] {
        let gen = |seed| {
            if shuffled {
                RandomDag::generate_shuffled(200, 1_000, seed)
            } else {
                RandomDag::generate(200, 1_000, seed)
            }
        };
        let dag = gen(42);
        assert!(dag.is_acyclic());
        assert_eq!(dag, gen(42));
        assert_ne!(dag, gen(43));
        let distinct: std::collections::HashSet<_> = dag.edges.iter().collect();
        assert_eq!(distinct.len(), dag.edges.len());
        if !shuffled {
            assert!(dag.edges.iter().all(|&(s, c)| s < c));
        }
    }
}

#[test]
fn a_random_dag_loads_into_the_core_in_any_registration_order() {
    let dag = RandomDag::generate_shuffled(300, 2_000, 9);
    let core = devlink_core::DriverCore::new().unwrap();
    let devs: Vec<_> = (0..dag.nodes)
        .map(|i| {
            let d = core.device(&format!("n{i}")).bus("platform").create();
            block_on(core.device_add(&d)).unwrap();
            d
        })
        .collect();
    for &(s, c) in &dag.edges {
        core.link_add(&devs[c as usize], &devs[s as usize], LinkFlags::STATELESS)
            .unwrap();
    }
    let pos: std::collections::HashMap<_, _> = core
        .devices()
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d.name().to_string(), i))
        .collect();
    for &(s, c) in &dag.edges {
        assert!(
            pos[&format!("n{s}")] < pos[&format!("n{c}")],
            "n{s} before n{c}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any text: the parser returns a value or an error, never panics.
    #[test]
    fn the_parser_never_panics(text in ".{0,400}") {
        let _ = Scenario::parse(&text);
    }

    /// Structured but random scenarios: either an error naming an entry,
    /// or a board that builds.
    #[test]
    fn random_structured_scenarios_check_or_build(
        devices in proptest::collection::vec("[a-c]{1,2}", 0..6),
        links in proptest::collection::vec((0usize..8, 0usize..8, 0u32..0x400), 0..8),
    ) {
        let mut text = String::new();
        for d in &devices {
            text += &format!("[[device]]\nname = \"{d}\"\n");
        }
        for (c, s, f) in &links {
            let names: Vec<String> = LinkFlags::from_bits_truncate(*f)
                .iter_names().map(|(n, _)| format!("\"{n}\"")).collect();
            text += &format!(
                "[[link]]\nconsumer = \"{}\"\nsupplier = \"{}\"\nflags = [{}]\n",
                devices.get(*c).cloned().unwrap_or("zz".into()),
                devices.get(*s).cloned().unwrap_or("zz".into()),
                names.join(", ")
            );
        }
        match Scenario::parse(&text) {
            Err(e) => prop_assert!(e.to_string().starts_with("scenario")),
            Ok(sc) => {
                if let Err(e) = block_on(sc.build()) {
                    prop_assert!(e.to_string().contains("link") || e.to_string().contains("device"));
                }
            }
        }
    }
}
