//! Tests of the packed f32 product against the scalar reference: odd shapes in every transpose and
//! accumulate combination, exact cases, untouched memory, empty dimensions and thread-count
//! independence.
use super::pack::{View, a_len, b_len, f32x8_as_flat, pack_a, pack_b, panel_width};
use super::parallel::plan;
use super::params::{KC, MC, MR, NR};
use super::{Gemm, reference, sgemm, sgemm_split_above};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Unit roundoff of f32.
const U: f64 = f32::EPSILON as f64 / 2.0;

fn uniform(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0).collect()
}

fn small_ints(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| (rng.next_u32() % 9) as f32 - 4.0).collect()
}

fn gemm(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool) -> Gemm {
    Gemm { trans_a, trans_b, accumulate, ..Gemm::new(m, k, n) }
}

/// Checks `sgemm` against the reference in f64 on one case. Both compute each element as a sum of k
/// products, each with error at most γ_k·Σ_p|a_ip·b_pj| (γ_k ≈ k·u), and accumulation adds one more
/// rounding of |c₀| + |sum|; so the two may differ by at most 2·(k + 2)·u·(Σ_p|a_ip·b_pj| + |c₀|).
fn check_against_reference(g: &Gemm, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (a, b) = (uniform(&mut rng, g.m * g.k), uniform(&mut rng, g.k * g.n));
    let c0 = uniform(&mut rng, g.m * g.n);
    let mut ours = c0.clone();
    sgemm(g, &a, &b, &mut ours);

    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let abs = |v: &[f32]| v.iter().map(|&x| x.abs() as f64).collect::<Vec<f64>>();
    let mut exact = wide(&c0);
    reference::gemm(g, &wide(&a), &wide(&b), &mut exact);
    let mut magnitude = vec![0.0f64; g.m * g.n];
    reference::gemm(&Gemm { accumulate: false, ..*g }, &abs(&a), &abs(&b), &mut magnitude);

    for (idx, ((&o, &e), &mag)) in ours.iter().zip(&exact).zip(&magnitude).enumerate() {
        let c_mag = if g.accumulate { c0[idx].abs() as f64 } else { 0.0 };
        let bound = 2.0 * (g.k as f64 + 2.0) * U * (mag + c_mag) + f64::MIN_POSITIVE;
        let err = (o as f64 - e).abs();
        assert!(
            err <= bound,
            "{g:?}: C[{}, {}] = {o}, f64 reference {e}, error {err:e} > bound {bound:e}",
            idx / g.n,
            idx % g.n
        );
    }
}

const COMBOS: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

#[test]
fn matches_reference_on_odd_shapes_all_transposes_and_accumulate() {
    let dims = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33];
    let mut seed = 0;
    for &m in &dims {
        for &k in &[1, 2, 7, 16, 33] {
            for &n in &dims {
                for (ta, tb) in COMBOS {
                    for acc in [false, true] {
                        seed += 1;
                        check_against_reference(&gemm(m, k, n, ta, tb, acc), seed);
                    }
                }
            }
        }
    }
}

#[test]
fn matches_reference_across_block_boundaries() {
    // Shapes that cross KC (several k blocks, the first overwriting), MC (several row blocks), the
    // direct/packed A switch (n above DIRECT_A_MAX_N; a transposed A of row stride 128 that does not
    // stay in L1, above DIRECT_A_ALIASED_MAX_N), the in-place B of k up to 128 (row stride 100), an
    // in-place B with a ragged rest of more than one register row, and ragged register tiles everywhere.
    let shapes = [
        (128, 100, 200),
        (64, 100, 100),
        (MC + 1, KC + 3, NR * 3 + 5),
        (2 * MC + MR + 1, 2 * KC + 1, 19),
        (13, KC * 2, 300),
        (MR * 5 + 4, 70, 513),
        (7, 3, 2049 + 3),
        (61, 1, 45),
        // In-place B whose ragged rest is wider than one register row: its first ROW columns stay
        // in place and only the last few are packed (a 20-unit recurrent cell; 32 + 16 + 2).
        (32, 20, 20),
        (33, 10, 50),
        (MR + 3, 64, 27),
    ];
    for (s, &(m, k, n)) in shapes.iter().enumerate() {
        for (ta, tb) in COMBOS {
            for acc in [false, true] {
                check_against_reference(&gemm(m, k, n, ta, tb, acc), 1000 + s as u64);
            }
        }
    }
}

/// Index of `(r, c)` in an `rows × cols` matrix stored transposed or not.
fn at(trans: bool, rows: usize, cols: usize, r: usize, c: usize) -> usize {
    if trans { c * rows + r } else { r * cols + c }
}

#[test]
fn identity_leaves_the_other_factor_unchanged() {
    for &(m, n) in &[(1, 1), (5, 7), (19, 33), (40, 300)] {
        let mut rng = ChaCha8Rng::seed_from_u64(m as u64 * 31 + n as u64);
        let x = uniform(&mut rng, m * n);
        for (ta, tb) in COMBOS {
            // I·X with X stored as op(B): compare in logical (row-major m × n) order.
            let eye = |s: usize| (0..s * s).map(|i| if i % (s + 1) == 0 { 1.0 } else { 0.0 }).collect();
            let eye_m: Vec<f32> = eye(m);
            let xb: Vec<f32> = if tb { transpose(&x, m, n) } else { x.clone() };
            let mut c = vec![f32::NAN; m * n];
            sgemm(&gemm(m, m, n, ta, tb, false), &eye_m, &xb, &mut c);
            assert_eq!(c, x, "I·X, m={m} n={n} ta={ta} tb={tb}");
            // X·I with X stored as op(A).
            let eye_n: Vec<f32> = eye(n);
            let xa: Vec<f32> = if ta { transpose(&x, m, n) } else { x.clone() };
            let mut c = vec![f32::NAN; m * n];
            sgemm(&gemm(m, n, n, ta, tb, false), &xa, &eye_n, &mut c);
            assert_eq!(c, x, "X·I, m={m} n={n} ta={ta} tb={tb}");
        }
    }
}

/// The `cols × rows` row-major transpose of a `rows × cols` matrix.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols).map(|i| x[(i % rows) * cols + i / rows]).collect()
}

#[test]
fn small_integers_give_exact_results() {
    // |entries| ≤ 4 and k ≤ 600: every partial sum is an integer below 2^24, so any order of
    // summation is exact and the result must equal the integer product exactly.
    for (s, &(m, k, n)) in
        [(1, 9, 17), (6, 16, 16), (23, 600, 41), (130, 257, 70), (9, 31, 260)].iter().enumerate()
    {
        let mut rng = ChaCha8Rng::seed_from_u64(77 + s as u64);
        let (a, b, c0) =
            (small_ints(&mut rng, m * k), small_ints(&mut rng, k * n), small_ints(&mut rng, m * n));
        for (ta, tb) in COMBOS {
            for acc in [false, true] {
                let mut c = c0.clone();
                sgemm(&gemm(m, k, n, ta, tb, acc), &a, &b, &mut c);
                for i in 0..m {
                    for j in 0..n {
                        let mut want: i64 = if acc { c0[i * n + j] as i64 } else { 0 };
                        for p in 0..k {
                            want += a[at(ta, m, k, i, p)] as i64 * b[at(tb, k, n, p, j)] as i64;
                        }
                        assert_eq!(
                            c[i * n + j],
                            want as f32,
                            "({m},{k},{n}) ta={ta} tb={tb} acc={acc} at ({i},{j})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn overwrites_every_element_and_nothing_outside() {
    // C sits inside a larger buffer whose guard cells hold a NaN with a recognisable payload.
    let guard = f32::from_bits(0x7fc0_beef);
    // 17, 20, 37 and 60 columns end in a shifted in-place tail whose first lanes are dropped.
    let shapes = [
        (1, 5, 9),
        (7, 1, 1),
        (13, 7, 17),
        (MR, KC + 1, NR),
        (MC + 5, 40, 37),
        (50, 300, 270),
        (33, 20, 20),
        (20, 32, 60),
    ];
    for &(m, k, n) in &shapes {
        let mut rng = ChaCha8Rng::seed_from_u64((m * k * n) as u64);
        let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
        for (ta, tb) in COMBOS {
            let pad = 19;
            let mut buf = vec![guard; pad + m * n + pad];
            sgemm(&gemm(m, k, n, ta, tb, false), &a, &b, &mut buf[pad..pad + m * n]);
            let (head, rest) = buf.split_at(pad);
            let (c, tail) = rest.split_at(m * n);
            assert!(
                head.iter().chain(tail).all(|v| v.to_bits() == guard.to_bits()),
                "({m},{k},{n}) wrote outside C"
            );
            assert!(
                c.iter().all(|v| v.is_finite()),
                "({m},{k},{n}) ta={ta} tb={tb} left an element unwritten"
            );
        }
    }
}

#[test]
fn empty_dimensions() {
    let a = [1.0f32; 12];
    // k = 0: C = 0, or unchanged when accumulating.
    let mut c = vec![f32::NAN; 12];
    sgemm(&Gemm::new(3, 0, 4), &[], &[], &mut c);
    assert_eq!(c, vec![0.0; 12]);
    let mut c = vec![2.5f32; 12];
    sgemm(&Gemm { accumulate: true, ..Gemm::new(3, 0, 4) }, &[], &[], &mut c);
    assert_eq!(c, vec![2.5; 12]);
    // m = 0 or n = 0: nothing to write.
    let mut c: Vec<f32> = vec![];
    sgemm(&Gemm::new(0, 4, 3), &[], &a[..12], &mut c);
    sgemm(&Gemm::new(3, 4, 0), &a[..12], &[], &mut c);
    sgemm(&Gemm::new(0, 0, 0), &[], &[], &mut c);
}

#[test]
#[should_panic(expected = "expected m*k")]
fn wrong_length_is_rejected() {
    sgemm(&Gemm::new(2, 3, 4), &[0.0; 5], &[0.0; 12], &mut [0.0; 8]);
}

/// Runs `g` inside a dedicated pool of `threads` threads.
fn in_pool(threads: usize, g: &Gemm, a: &[f32], b: &[f32], c0: &[f32]) -> Vec<f32> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let mut c = c0.to_vec();
    pool.install(|| sgemm(g, a, b, &mut c));
    c
}

#[test]
fn bit_identical_on_1_2_and_7_threads() {
    // One shape split by rows and one by columns; both must really go parallel.
    for &(m, k, n) in &[(301, 2 * KC + 9, 67), (37, 300, 455)] {
        for threads in [2, 7] {
            assert!(plan(m, n, k, threads).is_some(), "({m},{k},{n}) should run in parallel on {threads}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (a, b, c0) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n), uniform(&mut rng, m * n));
        for (ta, tb) in COMBOS {
            for acc in [false, true] {
                let g = gemm(m, k, n, ta, tb, acc);
                let one = in_pool(1, &g, &a, &b, &c0);
                for threads in [2, 7] {
                    let many = in_pool(threads, &g, &a, &b, &c0);
                    let same = one.iter().zip(&many).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{g:?}: {threads} threads differ from 1");
                }
            }
        }
    }
}

/// The parallel threshold only schedules: a small product forced onto two threads (threshold 0, the
/// crossover bench's setting) gives the same bits as the same product kept on the caller.
#[test]
fn threshold_changes_no_bits() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool");
    for &(m, k, n) in &[(48, 48, 48), (64, 100, 100), (13, 300, 40)] {
        assert!(
            super::parallel::plan_above(m, n, k, 2, 0, false).is_some(),
            "({m},{k},{n}) should split when forced"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (a, b, c0) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n), uniform(&mut rng, m * n));
        for (ta, tb) in COMBOS {
            for acc in [false, true] {
                let g = gemm(m, k, n, ta, tb, acc);
                let run = |min| {
                    let mut c = c0.clone();
                    pool.install(|| sgemm_split_above(&g, &a, &b, &mut c, min));
                    c
                };
                let (serial, split) = (run(usize::MAX), run(0));
                let same = serial.iter().zip(&split).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{g:?}: the forced split differs from the serial product");
            }
        }
    }
}

#[test]
fn parallel_split_covers_c_with_whole_tiles() {
    for &(m, k, n) in &[(301, 521, 67), (37, 300, 455), (1024, 1024, 1024), (128, 784, 128), (7, 5000, 40)] {
        for threads in 2..9 {
            let Some(s) = plan(m, n, k, threads) else { continue };
            let (len, unit) = if s.by_cols { (n, NR) } else { (m, MR) };
            assert!(s.tasks >= 2 && s.tasks <= threads, "{s:?}");
            assert_eq!(s.step % unit, 0, "{s:?}");
            assert!(s.step * (s.tasks - 1) < len && s.step * s.tasks >= len, "{s:?} does not cover {len}");
        }
    }
    assert_eq!(plan(32, 64, 64, 8), None, "a 32x64x64 product must stay on the calling thread");
}

/// When rows and columns leave the same padded work, an isolated product cuts columns (each block
/// packs only its share of B) and a hot run's product cuts rows (the elementwise kernels after it
/// cut the same rows); an uneven cut is chosen on work alone.
#[test]
fn a_tie_goes_to_rows_only_in_a_hot_run() {
    let cut =
        |m, n, k, rows_on_tie| super::parallel::plan_above(m, n, k, 2, 0, rows_on_tie).map(|s| s.by_cols);
    assert_eq!(cut(128, 128, 784, false), Some(true));
    assert_eq!(cut(128, 128, 784, true), Some(false));
    // 3 column panels cut 2 + 1, where 16 row tiles cut evenly: rows either way.
    assert_eq!(cut(128, 96, 100, false), Some(false));
    assert_eq!(cut(128, 96, 100, true), Some(false));
}

/// Packing is a copy: every B micro-panel, whether packed from rows of B (vector loads, a ragged
/// last group gathered into one vector), from a transposed B (8 × 8 register transposes plus scalar
/// tails) or from a transposed edge under 8 columns (scalar),
/// holds exactly `B[p, q·NR + j]` at `q·kc·NR + p·w + j` (`w` = NR, or 16 for a last panel of at most
/// 16 columns), and zero past the last column.
#[test]
fn packed_a_panels_hold_a_exactly_in_every_layout() {
    for &mc in &[1, MR - 1, MR, MR + 1, 2 * MR, 3 * MR + 2, MC] {
        for &kc in &[1, 7, 8, 9, 33, KC] {
            let a: Vec<f32> = (0..mc * kc).map(|i| i as f32 + 0.5).collect();
            let at_ = transpose(&a, mc, kc);
            let want: Vec<f32> = (0..a_len(mc, kc))
                .map(|idx| {
                    let (q, p, i) = (idx / (kc * MR), idx / MR % kc, idx % MR);
                    let row = q * MR + i;
                    if row < mc { a[row * kc + p] } else { 0.0 }
                })
                .collect();
            for (name, view) in [
                ("rows", View { ptr: a.as_ptr(), rs: kc, cs: 1 }),
                ("transposed", View { ptr: at_.as_ptr(), rs: 1, cs: mc }),
            ] {
                let mut out = vec![f32::NAN; a_len(mc, kc)];
                // SAFETY: the view covers exactly the mc × kc matrix held by `a` or `at_`.
                unsafe { pack_a(mc, kc, view, &mut out) };
                assert_eq!(out, want, "mc={mc} kc={kc} {name}");
            }
        }
    }
}

#[test]
fn packed_b_panels_hold_b_exactly_in_every_layout() {
    for &kc in &[1, 7, 8, 9, 16, 33, 64, KC] {
        for &nc in &[1, 15, 16, 17, 31, 32, 33, 40, 48, 64, 65] {
            let b: Vec<f32> = (0..kc * nc).map(|i| i as f32 + 0.5).collect();
            let bt = transpose(&b, kc, nc);
            // Full panels are NR wide; the last one is `panel_width` wide, and the floats after it
            // (up to b_len) are not written.
            let last = (nc - 1) / NR;
            let last_w = panel_width(nc - last * NR);
            let used = last * kc * NR + kc * last_w;
            let want: Vec<f32> = (0..b_len(kc, nc) * 8)
                .map(|i| {
                    let (q, r) = (i / (kc * NR), i % (kc * NR));
                    let w = if q == last { last_w } else { NR };
                    let (p, j) = (r / w, r % w);
                    let col = q * NR + j;
                    if i >= used {
                        f32::NAN
                    } else if col < nc {
                        b[p * nc + col]
                    } else {
                        0.0
                    }
                })
                .collect();
            for (name, view) in [
                ("rows", View { ptr: b.as_ptr(), rs: nc, cs: 1 }),
                ("transposed", View { ptr: bt.as_ptr(), rs: 1, cs: kc }),
            ] {
                let mut out = vec![wide::f32x8::splat(f32::NAN); b_len(kc, nc)];
                // SAFETY: the view covers exactly the kc × nc matrix held by `b` or `bt`.
                unsafe { pack_b(kc, nc, view, &mut out) };
                let got = f32x8_as_flat(&mut out);
                let same = got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
                assert!(same, "kc={kc} nc={nc} {name}: {got:?} != {want:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_shapes_match_reference(
        m in 0usize..70, k in 0usize..300, n in 0usize..70,
        ta: bool, tb: bool, acc: bool, seed: u64,
    ) {
        check_against_reference(&gemm(m, k, n, ta, tb, acc), seed);
    }
}

/// Every element of C is one FMA chain per k block ([`crate::kernels::fmadd`]: fused where the
/// vector kernels fuse), in increasing p, added to C block by block:
/// the exact bits, whatever the register tile (16-wide zmm rows on AVX-512, two 8-wide halves
/// elsewhere), the row count MR, the packing or the thread count. Pinning the bits to this scalar
/// chain is what lets the tile change per target without changing any result.
#[test]
fn each_element_is_one_fma_chain_per_k_block() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let shapes = [
        (2, 3, 2),
        (MR + 1, 17, NR + 3),
        (2 * MR + 3, KC, 2 * NR - 1),
        (13, KC + 40, 37),
        (70, 100, 100),
        (33, 20, 20),
        (20, 32, 60),
        (5, 10, 17),
        // Few rows: B read in place at any depth.
        (10, 700, 20),
    ];
    for &(m, k, n) in &shapes {
        for (ta, tb) in COMBOS {
            for accumulate in [false, true] {
                let g = gemm(m, k, n, ta, tb, accumulate);
                let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
                let c0 = uniform(&mut rng, m * n);
                let mut ours = c0.clone();
                sgemm(&g, &a, &b, &mut ours);
                let step = k.div_ceil(k.div_ceil(KC));
                for i in 0..m {
                    for j in 0..n {
                        let mut c = if accumulate { Some(c0[i * n + j]) } else { None };
                        for p0 in (0..k).step_by(step) {
                            let block = (p0..k.min(p0 + step)).fold(0.0f32, |s, p| {
                                crate::kernels::fmadd(a[at(ta, m, k, i, p)], b[at(tb, k, n, p, j)], s)
                            });
                            c = Some(c.map_or(block, |c| c + block));
                        }
                        let (o, e) = (ours[i * n + j], c.unwrap());
                        assert_eq!(o.to_bits(), e.to_bits(), "{g:?}: C[{i}, {j}] = {o}, chain {e}");
                    }
                }
            }
        }
    }
}
