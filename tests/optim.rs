//! Optimisers against steps computed by hand on a tiny quadratic, convergence
//! on an ill-conditioned bowl, no allocation after the first step, the
//! learning-rate schedules, and the three senses of gradient clipping.
use gradlab::Shape;
use gradlab::clip::{clip_by_global_norm, clip_by_norm_per_tensor, clip_by_value, global_norm};
use gradlab::optim::{
    Adam, AdamConfig, LrSchedule, Optimizer, ReduceOnPlateau, Regularization, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use gradlab::params::{ParamId, ParamStore};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts this thread's allocations, so a test can prove a step allocates nothing.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// f(w) = ½·Σ aᵢwᵢ², gradient a ⊙ w, one parameter per entry of `init`.
struct Bowl {
    store: ParamStore<f64>,
    a: Vec<Vec<f64>>,
}

impl Bowl {
    fn new(init: &[&[f64]], a: &[&[f64]]) -> Self {
        let mut store = ParamStore::new();
        for (i, w) in init.iter().enumerate() {
            store.add(format!("w{i}"), Shape::new(1, w.len()), w.to_vec()).unwrap();
        }
        Bowl { store, a: a.iter().map(|v| v.to_vec()).collect() }
    }

    fn tiny() -> Self {
        Bowl::new(&[&[1.0, -2.0]], &[&[1.0, 3.0]])
    }

    fn fill_grads(&mut self) {
        for ((_, p), a) in self.store.iter_mut().zip(&self.a) {
            for ((g, &w), &ai) in p.grad.iter_mut().zip(&p.value).zip(a) {
                *g = ai * w;
            }
        }
    }

    fn step(&mut self, opt: &mut dyn Optimizer<f64>) {
        self.fill_grads();
        opt.step(&mut self.store).unwrap();
    }

    fn w(&self) -> Vec<f64> {
        self.store.iter().flat_map(|(_, p)| p.value.clone()).collect()
    }

    fn loss(&self) -> f64 {
        self.store
            .iter()
            .zip(&self.a)
            .map(|((_, p), a)| p.value.iter().zip(a).map(|(w, a)| 0.5 * a * w * w).sum::<f64>())
            .sum()
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

// w₀ = (1, −2), a = (1, 3), so g₁ = (1, −6).

#[test]
fn sgd_plain_by_hand() {
    let mut bowl = Bowl::tiny();
    let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.1, ..SgdConfig::default() }).unwrap();
    bowl.step(&mut sgd); // w − 0.1·(1, −6)
    assert_close(&bowl.w(), &[0.9, -1.4], 1e-15);
    bowl.step(&mut sgd); // g = (0.9, −4.2)
    assert_close(&bowl.w(), &[0.81, -0.98], 1e-15);
}

#[test]
fn sgd_momentum_by_hand() {
    let mut bowl = Bowl::tiny();
    let cfg = SgdConfig { learning_rate: 0.1, momentum: 0.9, ..SgdConfig::default() };
    let mut sgd = Sgd::new(cfg).unwrap();
    bowl.step(&mut sgd); // v = (1, −6)
    assert_close(&bowl.w(), &[0.9, -1.4], 1e-15);
    bowl.step(&mut sgd); // g = (0.9, −4.2), v = 0.9·(1, −6) + g = (1.8, −9.6)
    assert_close(&bowl.w(), &[0.72, -0.44], 1e-15);
}

#[test]
fn sgd_nesterov_by_hand() {
    let mut bowl = Bowl::tiny();
    let cfg = SgdConfig { learning_rate: 0.1, momentum: 0.9, nesterov: true, ..SgdConfig::default() };
    let mut sgd = Sgd::new(cfg).unwrap();
    bowl.step(&mut sgd); // v = (1, −6), d = g + 0.9v = (1.9, −11.4)
    assert_close(&bowl.w(), &[0.81, -0.86], 1e-15);
    bowl.step(&mut sgd); // g = (0.81, −2.58), v = (1.71, −7.98), d = (2.349, −9.762)
    assert_close(&bowl.w(), &[0.5751, 0.1162], 1e-14);
}

#[test]
fn rmsprop_by_hand() {
    let mut bowl = Bowl::tiny();
    let cfg = RmsPropConfig { learning_rate: 0.01, ..RmsPropConfig::default() };
    assert_eq!((cfg.rho, cfg.epsilon), (0.9, 1e-7));
    let mut opt = RmsProp::new(cfg).unwrap();
    // a = 0.1·g² = (0.1, 3.6); step 0.01·g/√(a + 1e-7) ≈ 0.01/√0.1 = 0.0316228 per coordinate.
    bowl.step(&mut opt);
    assert_close(&bowl.w(), &[0.9683772392096927, -1.9683772238375215], 1e-14);
    // g = (0.96838, −5.90513), a = 0.9·a + 0.1·g².
    bowl.step(&mut opt);
    assert_close(&bowl.w(), &[0.9457880465069629, -1.945609637277785], 1e-14);
}

#[test]
fn adam_by_hand() {
    let mut bowl = Bowl::tiny();
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, ..AdamConfig::default() }).unwrap();
    // Step 1: m̂ = g, v̂ = g², so the step is 0.1·g/(|g| + 1e-8): 0.1 per coordinate.
    bowl.step(&mut adam);
    assert_close(&bowl.w(), &[0.900000001, -1.9000000001666666], 1e-15);
    // Step 2: g = (0.9, −5.7), m = (0.18, −1.11), v = (0.001809, 0.068454),
    // m̂ = m/0.19, v̂ = v/0.001999, step = 0.1·m̂/(√v̂ + ε) = (0.0995881, −0.0998335).
    bowl.step(&mut adam);
    assert_close(&bowl.w(), &[0.8004122297123382, -1.800166485947237], 1e-14);
}

#[test]
fn adamw_decays_the_weights_outside_the_adaptive_step() {
    let mut bowl = Bowl::tiny();
    let cfg = AdamConfig { learning_rate: 0.1, ..AdamConfig::adamw(0.1) };
    let mut adam = Adam::new(cfg).unwrap();
    bowl.step(&mut adam); // w·(1 − 0.1·0.1) − 0.1·sign(g)
    assert_close(&bowl.w(), &[0.890000001, -1.8800000001666666], 1e-15);
}

#[test]
fn l2_is_added_to_the_gradient() {
    // With plain SGD, L2 λ = 0.5 gives g + 0.5·w = (1.5, −7): w = (0.85, −1.3).
    let reg = Regularization { l2: 0.5, weight_decay: 0.0 };
    let mut bowl = Bowl::tiny();
    let mut sgd =
        Sgd::new(SgdConfig { learning_rate: 0.1, regularization: reg, ..SgdConfig::default() }).unwrap();
    bowl.step(&mut sgd);
    assert_close(&bowl.w(), &[0.85, -1.3], 1e-15);
    // Through Adam's first step (a sign step) L2 changes nothing visible: the
    // regularised gradient (1.5, −7) has the same signs. Decoupled decay does.
    let mut l2 = Bowl::tiny();
    let mut adam =
        Adam::new(AdamConfig { learning_rate: 0.1, regularization: reg, ..AdamConfig::default() }).unwrap();
    l2.step(&mut adam);
    assert_close(&l2.w(), &[0.9, -1.9], 1e-8);
}

#[test]
fn decoupled_decay_equals_l2_for_sgd_but_not_under_adams_scaling() {
    let steps = |opt: &mut dyn Optimizer<f64>, bowl: &mut Bowl, n: usize| {
        (0..n).for_each(|_| bowl.step(opt));
        bowl.w()
    };
    // SGD: w − lr·(g + λw) = (1 − lr·λ)·w − lr·g, so the two are one update.
    let sgd = |reg| {
        Sgd::new(SgdConfig { learning_rate: 0.1, regularization: reg, ..SgdConfig::default() }).unwrap()
    };
    let l2 = steps(&mut sgd(Regularization { l2: 0.3, weight_decay: 0.0 }), &mut Bowl::tiny(), 10);
    let wd = steps(&mut sgd(Regularization { l2: 0.0, weight_decay: 0.3 }), &mut Bowl::tiny(), 10);
    assert_close(&l2, &wd, 1e-12);

    // Adam on a flat loss (g = 0), 100 steps at lr 0.01 from w = (1, −2).
    let flat = || Bowl::new(&[&[1.0, -2.0]], &[&[0.0, 0.0]]);
    let adam = |reg| {
        Adam::new(AdamConfig { learning_rate: 0.01, regularization: reg, ..AdamConfig::default() }).unwrap()
    };
    // Decoupled: m = v = 0, so only the decay acts: w·(1 − lr·wd)¹⁰⁰, in proportion to wd.
    for wd in [1e-3, 1e-1] {
        let w = steps(&mut adam(Regularization { l2: 0.0, weight_decay: wd }), &mut flat(), 100);
        let keep = (1.0 - 0.01 * wd).powi(100);
        assert_close(&w, &[keep, -2.0 * keep], 1e-12);
    }
    // L2: the gradient λ·w is divided by its own running RMS, so λ drops out
    // (up to ε): a 100× smaller λ shrinks the weights just as far, and far
    // more than the decoupled decay of the same coefficient.
    let small = steps(&mut adam(Regularization { l2: 1e-3, weight_decay: 0.0 }), &mut flat(), 100);
    let large = steps(&mut adam(Regularization { l2: 1e-1, weight_decay: 0.0 }), &mut flat(), 100);
    println!("adam + l2 after 100 flat steps: λ=1e-3 {small:?}, λ=1e-1 {large:?}");
    assert_close(&small, &large, 1e-4);
    assert!(small[0] < 0.5 && small[1] > -1.5, "L2 under Adam barely shrank: {small:?}");
}

#[test]
fn every_optimiser_converges_on_an_ill_conditioned_bowl() {
    // Ten coordinates with curvatures 1 ..= 100 (condition number 100), in two tensors.
    let a: Vec<f64> = (0..10).map(|i| 1.0 + 11.0 * i as f64).collect();
    let init: Vec<f64> = (0..10).map(|i| if i % 2 == 0 { 1.0 } else { -1.5 }).collect();
    let make = || Bowl::new(&[&init[..4], &init[4..]], &[&a[..4], &a[4..]]);
    let start = make().loss();
    let sgd = |momentum, nesterov| {
        Box::new(
            Sgd::new(SgdConfig { learning_rate: 0.015, momentum, nesterov, ..SgdConfig::default() }).unwrap(),
        )
    };
    let cases: Vec<(&str, Box<dyn Optimizer<f64>>, usize)> = vec![
        ("sgd", sgd(0.0, false), 2000),
        ("momentum", sgd(0.9, false), 500),
        ("nesterov", sgd(0.9, true), 500),
        (
            "rmsprop",
            Box::new(
                RmsProp::new(RmsPropConfig { learning_rate: 0.01, ..RmsPropConfig::default() }).unwrap(),
            ),
            2000,
        ),
        (
            "adam",
            Box::new(Adam::new(AdamConfig { learning_rate: 0.05, ..AdamConfig::default() }).unwrap()),
            2000,
        ),
    ];
    for (name, mut opt, steps) in cases {
        let mut bowl = make();
        let schedule = LrSchedule::cosine(opt.learning_rate(), steps, 0.0).unwrap();
        for t in 0..steps {
            schedule.apply(opt.as_mut(), t);
            bowl.step(opt.as_mut());
        }
        let end = bowl.loss();
        assert!(end < 1e-8 * start, "{name}: loss {start} → {end}");
    }
}

#[test]
fn state_is_allocated_once_then_reused() {
    let mut bowl = Bowl::new(&[&[1.0; 64], &[2.0; 32]], &[&[1.0; 64], &[2.0; 32]]);
    let mut opts: Vec<Box<dyn Optimizer<f64>>> = vec![
        Box::new(Sgd::new(SgdConfig { momentum: 0.9, nesterov: true, ..SgdConfig::default() }).unwrap()),
        Box::new(RmsProp::new(RmsPropConfig::default()).unwrap()),
        Box::new(Adam::new(AdamConfig::adamw(0.01)).unwrap()),
    ];
    for opt in &mut opts {
        bowl.step(opt.as_mut());
        let before = allocations();
        for _ in 0..10 {
            bowl.step(opt.as_mut());
        }
        assert_eq!(allocations(), before, "steps after the first allocated");
    }
    // The counter sees allocations at all (the check above can fail).
    let before = allocations();
    drop(std::hint::black_box(vec![0u8; 16]));
    assert!(allocations() > before);
    // A store that grew after the first step is an error, not a silent reset.
    bowl.store.add("late", Shape::new(1, 1), vec![0.0]).unwrap();
    let err = opts[2].step(&mut bowl.store).unwrap_err().to_string();
    assert!(err.contains("changed"), "{err}");
}

#[test]
fn bad_hyperparameters_are_errors() {
    assert!(Sgd::<f64>::new(SgdConfig { momentum: 1.0, ..SgdConfig::default() }).is_err());
    assert!(Sgd::<f64>::new(SgdConfig { nesterov: true, ..SgdConfig::default() }).is_err());
    assert!(Sgd::<f64>::new(SgdConfig { learning_rate: f64::NAN, ..SgdConfig::default() }).is_err());
    assert!(RmsProp::<f64>::new(RmsPropConfig { epsilon: 0.0, ..RmsPropConfig::default() }).is_err());
    let err = Adam::<f64>::new(AdamConfig { beta2: 1.0, ..AdamConfig::default() }).err().unwrap().to_string();
    assert!(err.contains("adam") && err.contains("beta2") && err.contains('1'), "{err}");
    let reg = Regularization { l2: -1.0, weight_decay: 0.0 };
    assert!(Adam::<f64>::new(AdamConfig { regularization: reg, ..AdamConfig::default() }).is_err());
}

#[test]
fn schedules_follow_their_formulas() {
    let step = LrSchedule::step_decay(0.1, 10, 0.5).unwrap();
    assert_close(&[step.at(0), step.at(9), step.at(10), step.at(25)], &[0.1, 0.1, 0.05, 0.025], 1e-15);
    let exp = LrSchedule::exponential(1.0, 100, 0.5, false).unwrap();
    assert_close(&[exp.at(0), exp.at(50), exp.at(100), exp.at(200)], &[1.0, 0.5f64.sqrt(), 0.5, 0.25], 1e-15);
    let stair = LrSchedule::exponential(1.0, 100, 0.5, true).unwrap();
    assert_close(&[stair.at(99), stair.at(100), stair.at(199)], &[1.0, 0.5, 0.5], 1e-15);
    // Cosine: lr₀ at 0, the midpoint between lr₀ and α·lr₀ at T/2, α·lr₀ from T on.
    let cos = LrSchedule::cosine(1.0, 100, 0.1).unwrap();
    assert_close(&[cos.at(0), cos.at(50), cos.at(100), cos.at(1000)], &[1.0, 0.55, 0.1, 0.1], 1e-15);
    assert!(cos.at(25) > cos.at(26));
    assert_eq!(LrSchedule::constant(0.3).unwrap().at(12345), 0.3);
    assert!(LrSchedule::step_decay(0.1, 0, 0.5).is_err());
    assert!(LrSchedule::cosine(0.1, 10, 2.0).is_err());
    let mut sgd = Sgd::<f64>::new(SgdConfig::default()).unwrap();
    assert_eq!(step.apply(&mut sgd, 20), 0.025);
    assert_eq!(Optimizer::<f64>::learning_rate(&sgd), 0.025);
}

#[test]
fn reduce_on_plateau_waits_for_patience_then_cools_down() {
    let mut sgd = Sgd::<f64>::new(SgdConfig { learning_rate: 1.0, ..SgdConfig::default() }).unwrap();
    let mut plateau = ReduceOnPlateau::new(0.5, 2).unwrap().with_cooldown(2).with_min_lr(0.2);
    // improving, improving, flat, flat → cut; cooldown; flat, flat → cut; flat, flat → floor.
    let metrics = [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0];
    let lrs: Vec<f64> = metrics
        .iter()
        .map(|&m| {
            plateau.observe(m, &mut sgd);
            Optimizer::<f64>::learning_rate(&sgd)
        })
        .collect();
    assert_eq!(lrs, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]);
    assert_eq!(plateau.best(), 1.0);
    // An improvement smaller than min_delta is no improvement; NaN neither.
    let mut sgd = Sgd::<f64>::new(SgdConfig { learning_rate: 1.0, ..SgdConfig::default() }).unwrap();
    let mut plateau = ReduceOnPlateau::new(0.1, 1).unwrap().with_min_delta(0.01);
    assert_eq!(plateau.observe(1.0, &mut sgd), None);
    assert_eq!(plateau.observe(0.995, &mut sgd), Some(0.1));
    assert_eq!(plateau.observe(f64::NAN, &mut sgd).map(|lr| (lr * 100.0).round()), Some(1.0));
    assert!(ReduceOnPlateau::new(1.0, 3).is_err());
}

/// Gradients of three tensors with norms 3, 4 and 12 (global norm 13).
fn three_tensors() -> (ParamStore<f32>, Vec<ParamId>) {
    let mut store = ParamStore::new();
    let grads: [&[f32]; 3] = [&[3.0], &[0.0, -4.0], &[12.0, 0.0, 0.0]];
    let ids = grads
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let id = store.add(format!("p{i}"), Shape::new(1, g.len()), vec![0.0; g.len()]).unwrap();
            store.get_mut(id).grad.copy_from_slice(g);
            id
        })
        .collect();
    (store, ids)
}

fn grads(store: &ParamStore<f32>) -> Vec<f32> {
    store.iter().flat_map(|(_, p)| p.grad.clone()).collect()
}

#[test]
fn clip_by_value_clamps_each_element() {
    let (mut store, _) = three_tensors();
    let r = clip_by_value(&mut store, 3.5).unwrap();
    assert_eq!(grads(&store), [3.0, 0.0, -3.5, 3.5, 0.0, 0.0]);
    assert!(r.clipped);
    assert!((r.norm_before - 13.0).abs() < 1e-6);
    assert!((r.norm_after - (9.0f64 + 2.0 * 12.25).sqrt()).abs() < 1e-6);
    let r = clip_by_value(&mut store, 100.0).unwrap();
    assert!(!r.clipped && r.norm_before == r.norm_after);
}

#[test]
fn per_tensor_clipping_leaves_the_global_norm_above_the_threshold() {
    let (mut store, _) = three_tensors();
    let mut norms = Vec::new();
    let r = clip_by_norm_per_tensor(&mut store, 3.5, &mut norms).unwrap();
    assert_eq!(norms, [3.0, 4.0, 12.0]);
    // 3 stays, 4 and 12 become 3.5 in their own direction.
    assert_close(
        &grads(&store).iter().map(|&g| f64::from(g)).collect::<Vec<_>>(),
        &[3.0, 0.0, -3.5, 3.5, 0.0, 0.0],
        1e-6,
    );
    assert!(r.clipped && (r.norm_before - 13.0).abs() < 1e-6);
    assert!(r.norm_after > 3.5, "global norm after per-tensor clipping {}", r.norm_after);
    // n tensors each far above c: every one ends at c, the global norm at √n·c.
    let mut store = ParamStore::<f32>::new();
    for i in 0..16 {
        let id = store.add(format!("t{i}"), Shape::new(1, 3), vec![0.0; 3]).unwrap();
        store.get_mut(id).grad.copy_from_slice(&[100.0 + i as f32, -50.0, 7.0]);
    }
    let r = clip_by_norm_per_tensor(&mut store, 1.0, &mut norms).unwrap();
    assert_eq!(norms.len(), 16);
    assert!((r.norm_after - 4.0).abs() < 1e-5, "√16·1 expected, got {}", r.norm_after);
    assert!((global_norm(&store).unwrap() - 4.0).abs() < 1e-5);
}

#[test]
fn global_norm_clipping_keeps_the_direction() {
    let (mut store, _) = three_tensors();
    let r = clip_by_global_norm(&mut store, 6.5).unwrap();
    assert!(r.clipped && (r.norm_before - 13.0).abs() < 1e-6 && (r.norm_after - 6.5).abs() < 1e-5);
    assert_close(
        &grads(&store).iter().map(|&g| f64::from(g)).collect::<Vec<_>>(),
        &[1.5, 0.0, -2.0, 6.0, 0.0, 0.0],
        1e-6,
    );
    let r = clip_by_global_norm(&mut store, 6.5 * 1.001).unwrap();
    assert!(!r.clipped);
    assert_close(
        &grads(&store).iter().map(|&g| f64::from(g)).collect::<Vec<_>>(),
        &[1.5, 0.0, -2.0, 6.0, 0.0, 0.0],
        1e-6,
    );
}

#[test]
fn clipping_rejects_bad_thresholds_and_non_finite_gradients() {
    let (mut store, ids) = three_tensors();
    assert!(clip_by_global_norm(&mut store, 0.0).is_err());
    assert!(clip_by_value(&mut store, f64::INFINITY).is_err());
    store.get_mut(ids[1]).grad[0] = f32::NAN;
    let err = clip_by_global_norm(&mut store, 1.0).unwrap_err().to_string();
    assert!(err.contains("p1"), "{err}");
    // Finite f32 gradients whose squares overflow still have a finite norm.
    let (mut store, ids) = three_tensors();
    store.get_mut(ids[0]).grad[0] = 3e20;
    let r = clip_by_global_norm(&mut store, 1.0).unwrap();
    assert!((r.norm_before / 3e20 - 1.0).abs() < 1e-6 && (r.norm_after - 1.0).abs() < 1e-5);
}
