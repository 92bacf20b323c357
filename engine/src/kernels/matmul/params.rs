//! Block sizes of the packed product, tuned for AMD Zen 3 (32 KiB L1d, 512 KiB L2 per core, AVX2+FMA).
//!
//! The loop nest (see `driver.rs`) is the BLIS one: `jc` steps over NC columns of C, `pc` over KC of the
//! shared dimension, `ic` over MC rows; inside, the micro-kernel computes one MR×NR register tile.

/// Rows of the register tile: each row holds `NR / 8` accumulators, so the tile keeps
/// `MR · NR / 8 = 12` ymm accumulators live, plus 2 for the B row and 1 for the broadcast A value:
/// 15 of the 16 ymm registers. 12 independent FMA chains cover Zen 3's 2 FMA pipes × 4-cycle latency.
#[cfg(not(target_feature = "avx512f"))]
pub const MR: usize = 6;
/// With AVX-512 a tile row is one zmm register (see `micro.rs`), so 8 rows are the 8 FMA chains
/// that 2 pipes × 4 cycles of latency need, and batches of 32, 64 and 128 rows fill whole tiles.
/// (On the Sapphire Rapids dev host 6 zmm rows left a third of the FMA slots idle; 8 rows, with the
/// row offsets kept out of the k loop's dependency chain, gave 1.13-1.2x on the 1-thread train steps.)
#[cfg(target_feature = "avx512f")]
pub const MR: usize = 8;
/// Columns of the register tile (two `f32x8`, 12 ymm accumulators at MR = 6); also the width of one
/// packed B micro-panel.
#[cfg(not(target_feature = "avx512f"))]
pub const NR: usize = 32;
/// With AVX-512, two zmm per tile row: 16 accumulators, and each k step issues 2 B loads and 8 A
/// broadcasts for 16 FMAs. The 8 × 16 tile needed 9 loads for 8 FMAs, more than the two vector
/// load ports feed two FMA pipes: it ran at 65 % of the FMA peak where `matrixmultiply`'s 16 × 16
/// tile (17 loads per 16 FMAs) ran at 72 %. A ragged last panel of at most 16 columns runs the
/// 16-wide tile (see `micro.rs`).
#[cfg(target_feature = "avx512f")]
pub const NR: usize = 32;
/// Depth of one k block: sizes a packed B micro-panel (KC·NR floats = 16 KiB) that stays in L1
/// while the A micro-panels stream past it. KC is a constant, never derived from the thread count,
/// because it fixes the order in which each C element sums its products.
pub const KC: usize = 256;
/// Rows of one A block (MC·KC floats = 72 KiB, in L2 whether packed or read in place); each packed B
/// micro-panel stays in L1 across the MC/MR tiles of a `jr` step. Measured on Zen 3: 72 beat 120
/// and 240 by 2-5 % at n = 512 and 1024 (a smaller block leaves L2 room for C and the B panels).
pub const MC: usize = 72;
/// Columns of the packed B block (KC·NC floats = 2 MiB): sized for L3; each thread packs its own.
pub const NC: usize = 2048;

/// Below this many flops (2·m·n·k) a product runs on the calling thread: waking the pool costs
/// more than it saves (a 32×64×64 product is 0.26 MFLOP, about 2 µs of work). In isolation the split
/// pays from about 1 MFLOP (quiet 2-core AVX-512 host, `cargo bench --bench matmul -- par_crossover`,
/// forced 2-thread split over 1 thread: 64³ 1.01, 80³ 1.37, 64×100×100 1.43, 128×784×128 1.72), but
/// there the pool stays hot. Inside a training step the pool sleeps through the elementwise work
/// between products: with the threshold at 1 MFLOP the residual net's 64×100×100 products split
/// and its two-thread step became slower than one thread (`benches/peers.sh`, 2T/1T 1.28 against 0.93
/// at 2 MFLOP), so the threshold stays at 2 MFLOP. With the hot pool's team, whose keepers take a
/// split in a few cache-line transfers, 1 MFLOP still lost: that net's two-thread step took 2.28 ms
/// against 1.99 at 2 MFLOP (alternating runs): half of each 64×100 operand then crosses between the
/// cores at every product, which costs as much as the half product saves.
pub const PAR_MIN_FLOPS: usize = 1 << 21;
/// Smallest share of the work worth giving to one parallel task.
pub const PAR_MIN_TASK_FLOPS: usize = 1 << 20;

/// A transposed A (read in place with a row stride of `m` floats per k step) is read in place only
/// when it is re-read by few B micro-panels (`n` at most DIRECT_A_MAX_N, where packing, one scalar
/// copy per element, would not pay off) and its stride is short enough not to alias in the caches.
/// An untransposed A is always read in place (see `driver.rs`).
pub const DIRECT_A_MAX_N: usize = 256;
pub const DIRECT_A_MAX_STRIDE: usize = 256;
/// Above this `n` (more than 4 B micro-panels re-reading each A micro-panel) a transposed A whose
/// k-column does not stay in L1 (a row stride of 128 or 256 floats folds the kc lines of a
/// micro-panel into 8 or 4 of the 64 sets, see `driver::column_stays_in_l1`) is packed: Aᵀ·B at 256³
/// 1.04x (3 alternating pairs, thread CPU time, loaded host), where at 128×784×128 (n = 128, 4
/// panels) packing lost 4 % and the in-place read stays.
pub const DIRECT_A_ALIASED_MAX_N: usize = 128;

/// B is read in place (not packed) when it is small and not transposed: its k × NR column panel
/// (at most DIRECT_B_MAX_K rows, a row stride of at most DIRECT_B_MAX_N floats) then spreads over
/// enough L1 sets to stay resident, and small products skip most of the packing.
pub const DIRECT_B_MAX_K: usize = 64;
pub const DIRECT_B_MAX_N: usize = 128;
/// A deeper B (up to DIRECT_B_MAX_K_SPREAD rows) is read in place too when its row stride is not a
/// multiple of 16 floats: the rows of a panel then start at shifting offsets within cache lines and
/// spread over all the L1 sets (a panel of 128 rows × 3 lines is 24 KiB of the 48 KiB L1d). On the
/// residual net's 64×100×100 product packing B was 15 % of the product's samples in a profile of the
/// one-thread step (each packed panel feeds only 8 row tiles); reading it in place gave 1.1-1.2x
/// (thread CPU time, alternating runs on the loaded 2-core AVX-512 host).
pub const DIRECT_B_MAX_K_SPREAD: usize = 128;
/// Any depth of B is read in place when A has at most this many rows: each B panel then meets at
/// most two row tiles, so packing it (a copy of all of B per product) cannot pay back. A recurrent
/// layer's input-weight gradient Xᵀ·dZ (10 × 3200 · 3200 × 20 for 100 steps of batch 32) packed
/// its whole 3200-deep dZ on every step: 16 % of the SimpleRNN's one-thread step in a profile.
pub const DIRECT_B_MAX_M: usize = 2 * MR;
