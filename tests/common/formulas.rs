//! The WGSL functions several kernels share (`shaders/activation.wgsl`, the random family's
//! `ln_unit` and `cos_turns`), written once more in [`Approx`] arithmetic, operation for
//! operation, so that each parity test's bound follows the kernel's own formula.

use super::accuracy::Approx;
use gengpu::backend::{Activation, rng};

/// One of two branches, chosen by a sign the device may see either way when the operand's
/// value is within its error of 0: the bound then covers both.
fn branch(ambiguous: bool, taken: Approx, other: Approx) -> Approx {
    if !ambiguous {
        return taken;
    }
    Approx {
        exact: taken.exact,
        err: taken.err.max(other.err + (other.exact - taken.exact).abs()),
    }
}

/// `sigmoid` of activation.wgsl: `1 / (1 + exp(−x))` for x ≥ 0, else `e / (1 + e)`, e = exp(x).
pub fn sigmoid(x: Approx) -> Approx {
    let positive = Approx::from(1.0).div(x.neg().exp().add(1.0));
    let e = x.exp();
    let negative = e.div(e.add(1.0));
    if x.exact >= 0.0 {
        branch(x.sign_unknown(), positive, negative)
    } else {
        branch(x.sign_unknown(), negative, positive)
    }
}

/// `act_apply` of activation.wgsl.
pub fn activation(act: Activation, x: Approx) -> Approx {
    match act {
        Activation::Identity => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(slope) => {
            let (pos, neg) = (x, x.mul(slope));
            if x.exact > 0.0 {
                branch(x.sign_unknown(), pos, neg)
            } else {
                branch(x.sign_unknown(), neg, pos)
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.clamp(-15.0, 15.0).tanh(),
    }
}

/// `act_derivative_from_output` of activation.wgsl, at the output `y`.
pub fn activation_derivative(act: Activation, y: Approx) -> Approx {
    let step = |below: f32| {
        let (one, below) = (Approx::from(1.0), Approx::from(below));
        if y.exact > 0.0 {
            branch(y.sign_unknown(), one, below)
        } else {
            branch(y.sign_unknown(), below, one)
        }
    };
    match act {
        Activation::Identity => Approx::from(1.0),
        Activation::Relu => step(0.0),
        Activation::LeakyRelu(slope) => step(slope),
        Activation::Sigmoid => y.mul(Approx::from(1.0).sub(y)),
        Activation::Tanh => Approx::from(1.0).sub(y.mul(y)),
    }
}

/// Horner's rule in `x2` over `coefficients`, highest power first.
fn horner(x2: Approx, coefficients: &[f32]) -> Approx {
    coefficients[1..]
        .iter()
        .fold(Approx::from(coefficients[0]), |acc, &c| acc.mul(x2).add(c))
}

/// `ln_unit` of random.wgsl: `log(u)` below ½, else `2·atanh((u − 1)/(u + 1))` by its series.
pub fn ln_unit(u: f32) -> Approx {
    let u = Approx::from(u);
    if u.exact < 0.5 {
        return u.log();
    }
    let s = u.sub(1.0).div(u.add(1.0));
    let series = horner(
        s.mul(s),
        &[
            1.0 / 17.0,
            1.0 / 15.0,
            1.0 / 13.0,
            1.0 / 11.0,
            1.0 / 9.0,
            1.0 / 7.0,
            1.0 / 5.0,
            1.0 / 3.0,
            1.0,
        ],
    );
    Approx::from(2.0).mul(s).mul(series)
}

/// `cos_turns` of random.wgsl: cos(2π·u) from the nearest quarter turn and two polynomials.
pub fn cos_turns(u: f32) -> Approx {
    let quarters = 4.0 * u;
    let n = (quarters + 0.5).floor();
    let x = Approx::from(quarters - n).mul(std::f32::consts::FRAC_PI_2);
    let x2 = x.mul(x);
    let cos = horner(x2, &rng::COS_TAYLOR);
    let sin = x.mul(horner(x2, &rng::SIN_TAYLOR));
    match n as u32 % 4 {
        0 => cos,
        1 => sin.neg(),
        2 => cos.neg(),
        _ => sin,
    }
}
