//! Seeded random DAGs for tests and benchmarks.

/// SplitMix64: small, fast and deterministic.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift: unbiased enough for test graphs.
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// A random directed acyclic graph: `nodes` vertices and distinct edges
/// `(supplier, consumer)`. Every edge goes from a lower to a higher position
/// in a hidden random topological order, so the graph is acyclic; with
/// `shuffled(false)` that order is the identity (edges go from lower to
/// higher index, the order devices are usually registered in).
///
/// ```
/// use backend_sim::RandomDag;
/// let dag = RandomDag::generate(100, 300, 7);
/// assert_eq!(dag.edges.len(), 300);
/// assert_eq!(dag, RandomDag::generate(100, 300, 7)); // same seed, same graph
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomDag {
    /// Number of vertices.
    pub nodes: usize,
    /// `(supplier, consumer)` pairs, distinct, in generation order.
    pub edges: Vec<(u32, u32)>,
    /// The topological position of each vertex.
    pub rank: Vec<u32>,
}

impl RandomDag {
    /// A DAG whose edges agree with vertex index order.
    pub fn generate(nodes: usize, edges: usize, seed: u64) -> RandomDag {
        RandomDag::build(nodes, edges, seed, false)
    }

    /// A DAG whose hidden topological order is a random permutation, so
    /// registering vertices by index disagrees with many edges.
    pub fn generate_shuffled(nodes: usize, edges: usize, seed: u64) -> RandomDag {
        RandomDag::build(nodes, edges, seed, true)
    }

    fn build(nodes: usize, edges: usize, seed: u64, shuffle: bool) -> RandomDag {
        assert!(
            nodes >= 2 || edges == 0,
            "a DAG with edges needs two vertices"
        );
        let max = nodes as u128 * (nodes as u128 - 1) / 2;
        assert!(
            edges as u128 <= max,
            "{edges} distinct edges do not fit in {nodes} vertices"
        );
        let mut rng = SplitMix(seed);
        // rank -> vertex
        let mut at: Vec<u32> = (0..nodes as u32).collect();
        if shuffle {
            for i in (1..nodes).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                at.swap(i, j);
            }
        }
        let mut rank = vec![0u32; nodes];
        for (r, &v) in at.iter().enumerate() {
            rank[v as usize] = r as u32;
        }
        let mut seen = std::collections::HashSet::with_capacity(edges);
        let mut out = Vec::with_capacity(edges);
        while out.len() < edges {
            let a = rng.below(nodes as u64) as u32;
            let b = rng.below(nodes as u64) as u32;
            if a == b {
                continue;
            }
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            if seen.insert((lo, hi)) {
                out.push((at[lo as usize], at[hi as usize]));
            }
        }
        RandomDag {
            nodes,
            edges: out,
            rank,
        }
    }

    /// Whether every edge goes from a lower to a higher rank.
    pub fn is_acyclic(&self) -> bool {
        self.edges
            .iter()
            .all(|&(s, c)| self.rank[s as usize] < self.rank[c as usize])
    }
}
