//! # backend-sim
//!
//! The deterministic simulator backend. It supplies what a real system
//! would: drivers whose probe results, latencies and failures are scripted
//! ([`SimDriver`]), a knob that holds the removal worker back, a scenario
//! file format describing a whole board ([`Scenario`]), and a seeded random
//! DAG generator for tests and benchmarks ([`RandomDag`]).
//!
//! It implements behaviour only through the core crates' traits; it never
//! re-implements link states or load sequences. Time is virtual
//! ([`SimClock`]): a driver's latency advances the clock instead of
//! sleeping, so runs are fast and repeatable.
//!
//! ```
//! use backend_sim::Scenario;
//! # futures::executor::block_on(async {
//! let scenario = Scenario::parse(r#"
//!     [[driver]]
//!     name = "pmic"
//!     [[driver]]
//!     name = "sensor"
//!     [[device]]
//!     name = "soc:pmic"
//!     compatible = "pmic"
//!     [[device]]
//!     name = "1-0050"
//!     bus = "i2c"
//!     compatible = "sensor"
//!     [[link]]
//!     consumer = "i2c:1-0050"
//!     supplier = "platform:soc:pmic"
//! "#).unwrap();
//! let board = scenario.build().await.unwrap();
//! let link = &board.links[0];
//! assert_eq!(link.state().unwrap(), devlink_core::LinkState::Active);
//! # });
//! ```

mod dag;
mod driver;
mod fpga;
mod scenario;

pub use dag::RandomDag;
pub use driver::{ProbeOutcome, SimClock, SimDriver};
pub use fpga::{
    crc32, parse_sim_header, sim_image, SimBridge, SimFault, SimFpgaManager, SimHeader, SIM_HEADER,
};
pub use scenario::{Board, HeldLock, Scenario, ScenarioError};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
