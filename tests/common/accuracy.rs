//! What WGSL allows a conformant device to compute: the tolerances of the parity tests, derived
//! from the spec's accuracy rules rather than from one driver's results.
//!
//! An [`Approx`] is a kernel's formula evaluated twice at once: its exact value (in f64, from
//! the f32 inputs) and the largest distance from it that WGSL's rules allow an f32 result
//! (WGSL § "Floating Point Accuracy"):
//! - `+`, `−`, `×` are correctly rounded, which WGSL takes as either neighbour of the exact
//!   result (1 ULP); any `a·b + c` may be contracted into one rounding, which only drops the
//!   product's rounding, so counting it covers both; results in the subnormal range may be
//!   flushed to zero (an absolute 2^-126), so no test can depend on the sign of zero;
//! - `x / y`: 2.5 ULP; `inverseSqrt`: 2 ULP, and `sqrt` inherits from `1 / inverseSqrt(x)`;
//! - `exp(x)`: 3 + 2·|x| ULP; `log(x)`: 2^-21 absolute for x in [0.5, 2], else 3 ULP;
//! - `tanh` inherits from `sinh(x) / cosh(x)`, which inherit from `(exp(x) ∓ exp(−x)) · 0.5`;
//! - sums of n terms, in any order or tree (workgroup reductions): γ(n − 1) = (n − 1)·u/(1 −
//!   (n − 1)·u) of the sum of the terms' magnitudes (Higham, *Accuracy and Stability of
//!   Numerical Algorithms*, § 4.2), with u = 1 ULP of 1.
//!
//! A result passes when `|got − exact| ≤ err`: the GPU's and the reference's (with and without
//! fused multiply-adds) alike. NaN never passes.

/// 1 ULP of a value, relative: ULP(x) ≤ 2^-23·|x| for normal x.
const ULP: f64 = f32::EPSILON as f64;
/// The absolute error of a result in the subnormal range, which a device may flush to zero.
const FLUSH: f64 = f32::MIN_POSITIVE as f64;
/// 2^-21, WGSL's absolute bound for `log` on [0.5, 2].
const LOG_NEAR_ONE: f64 = 1.0 / 2_097_152.0;

/// A value of a kernel's formula: exact, and within `err` on any conformant device.
#[derive(Clone, Copy, Debug)]
pub struct Approx {
    /// The formula's value in exact arithmetic, from the inputs as stored.
    pub exact: f64,
    /// The largest `|computed − exact|` WGSL allows.
    pub err: f64,
}

impl From<f32> for Approx {
    /// An input or a constant: exact.
    fn from(x: f32) -> Self {
        Approx {
            exact: f64::from(x),
            err: 0.0,
        }
    }
}

impl Approx {
    /// The largest magnitude the computed value may have.
    fn magnitude(self) -> f64 {
        self.exact.abs() + self.err
    }

    /// A correctly rounded operation's result `exact`, from operands whose errors carry
    /// `err` into it.
    fn rounded(exact: f64, err: f64) -> Approx {
        Approx {
            exact,
            err: err + ULP * (exact.abs() + err) + FLUSH,
        }
    }

    /// A builtin's result `exact`, from operands whose errors carry `err` into it, within
    /// `ulps` ULP of the value at the computed operands.
    fn builtin(exact: f64, err: f64, ulps: f64) -> Approx {
        Approx {
            exact,
            err: err + ulps * ULP * (exact.abs() + err) + FLUSH,
        }
    }

    pub fn add(self, o: impl Into<Approx>) -> Approx {
        let o = o.into();
        Approx::rounded(self.exact + o.exact, self.err + o.err)
    }

    pub fn sub(self, o: impl Into<Approx>) -> Approx {
        let o = o.into();
        Approx::rounded(self.exact - o.exact, self.err + o.err)
    }

    pub fn mul(self, o: impl Into<Approx>) -> Approx {
        let o = o.into();
        Approx::rounded(
            self.exact * o.exact,
            self.exact.abs() * o.err + o.exact.abs() * self.err + self.err * o.err,
        )
    }

    /// Negation is exact.
    pub fn neg(self) -> Approx {
        Approx {
            exact: -self.exact,
            err: self.err,
        }
    }

    pub fn div(self, o: impl Into<Approx>) -> Approx {
        let o = o.into();
        assert!(
            o.exact.abs() > o.err,
            "a divisor that may be 0 ({o:?}) has no bound"
        );
        let q = self.exact / o.exact;
        let carried = (self.err + q.abs() * o.err) / (o.exact.abs() - o.err);
        Approx::builtin(q, carried, 2.5)
    }

    /// `sqrt`, inherited from `1 / inverseSqrt(x)`: 2 ULP, then 2.5 ULP.
    pub fn sqrt(self) -> Approx {
        assert!(self.exact >= 0.0, "sqrt of a negative value {self:?}");
        let root = self.exact.sqrt();
        let carried = if root > 0.0 {
            (self.err / root).min(self.err.sqrt())
        } else {
            self.err.sqrt()
        };
        Approx::builtin(root, carried, 4.5)
    }

    /// `inverseSqrt`: 2 ULP.
    pub fn inverse_sqrt(self) -> Approx {
        let lo = self.exact - self.err;
        assert!(lo > 0.0, "inverseSqrt of a value that may be ≤ 0: {self:?}");
        let r = 1.0 / self.exact.sqrt();
        // Decreasing: the farthest the computed operand can move it is from its lowest value.
        let carried = 1.0 / lo.sqrt() - r;
        Approx::builtin(r, carried, 2.0)
    }

    /// `exp`: 3 + 2·|x| ULP.
    pub fn exp(self) -> Approx {
        let e = self.exact.exp();
        let carried = e * self.err.exp_m1();
        Approx::builtin(e, carried, 3.0 + 2.0 * self.magnitude())
    }

    /// `log`: 2^-21 absolute on [0.5, 2], 3 ULP elsewhere (the larger where the computed
    /// operand may be on either side).
    pub fn log(self) -> Approx {
        let (lo, hi) = (self.exact - self.err, self.exact + self.err);
        assert!(lo > 0.0, "log of a value that may be ≤ 0: {self:?}");
        let l = self.exact.ln();
        let carried = self.err / lo;
        let ulps = Approx::builtin(l, carried, 3.0);
        let near_one = Approx {
            exact: l,
            err: carried + LOG_NEAR_ONE,
        };
        match (lo >= 0.5 && hi <= 2.0, hi < 0.5 || lo > 2.0) {
            (true, _) => near_one,
            (_, true) => ulps,
            _ => Approx {
                exact: l,
                err: ulps.err.max(near_one.err),
            },
        }
    }

    /// `tanh`, inherited from `sinh(x) / cosh(x)`; its derivative is at most 1.
    pub fn tanh(self) -> Approx {
        let x = Approx::from_exact(self.exact);
        let (e, e_neg) = (x.exp(), x.neg().exp());
        let quotient = e.sub(e_neg).mul(0.5).div(e.add(e_neg).mul(0.5));
        Approx {
            exact: self.exact.tanh(),
            err: self.err + quotient.err,
        }
    }

    /// `max` is exact, and moves by no more than its operands do.
    pub fn max(self, o: impl Into<Approx>) -> Approx {
        let o = o.into();
        Approx {
            exact: self.exact.max(o.exact),
            err: self.err.max(o.err),
        }
    }

    /// `clamp(x, lo, hi)` with exact bounds.
    pub fn clamp(self, lo: f32, hi: f32) -> Approx {
        Approx {
            exact: self.exact.clamp(f64::from(lo), f64::from(hi)),
            err: self.err,
        }
    }

    /// Whether the computed value may fall on either side of 0.
    pub fn sign_unknown(self) -> bool {
        self.exact.abs() <= self.err
    }

    /// Σ terms in any order or tree: γ(n − 1) of Σ|terms| on top of the terms' own errors.
    pub fn sum(terms: impl IntoIterator<Item = Approx>) -> Approx {
        let (mut n, mut exact, mut err, mut magnitude) = (0usize, 0.0, 0.0, 0.0);
        for t in terms {
            n += 1;
            exact += t.exact;
            err += t.err;
            magnitude += t.magnitude();
        }
        let nu = n.saturating_sub(1) as f64 * ULP;
        assert!(nu < 0.5, "a sum of {n} terms has no useful bound");
        Approx {
            exact,
            err: err + nu / (1.0 - nu) * magnitude + n as f64 * FLUSH,
        }
    }

    /// A value known exactly in f64 (an intermediate of a builtin's inherited formula).
    fn from_exact(x: f64) -> Approx {
        Approx { exact: x, err: 0.0 }
    }

    /// Whether `got` is within the bound.
    pub fn admits(self, got: f32) -> bool {
        // The f64 evaluation of `exact` itself is off by a few 1e-16 relative.
        (f64::from(got) - self.exact).abs() <= self.err * (1.0 + 1e-9) + self.exact.abs() * 1e-14
    }
}

/// Fails unless every `got[i]` is within `model[i]`'s bound, naming the worst element.
#[track_caller]
pub fn assert_within(what: &str, got: &[f32], model: &[Approx]) {
    assert_eq!(got.len(), model.len(), "{what}: lengths differ");
    let worst = got
        .iter()
        .zip(model)
        .enumerate()
        .filter(|(_, (g, m))| !m.admits(**g))
        .map(|(i, (g, m))| {
            let excess = (f64::from(*g) - m.exact).abs() / m.err;
            (
                i,
                if excess.is_nan() {
                    f64::INFINITY
                } else {
                    excess
                },
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((i, excess)) = worst {
        panic!(
            "{what}: element {i} is {} but the exact value is {} ± {:e} (WGSL's bound; off by \
             {excess:.2}× the bound)",
            got[i], model[i].exact, model[i].err
        );
    }
}
