// Activation functions shared by matmul.wgsl (fused epilogue) and elementwise.wgsl.
// Codes: 0 identity, 1 relu, 2 leaky relu (slope), 3 sigmoid, 4 tanh (Activation::code).

fn sigmoid(x: f32) -> f32 {
    // Two branches so that exp never overflows.
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn act_apply(code: u32, slope: f32, x: f32) -> f32 {
    switch code {
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(slope * x, x, x > 0.0); }
        case 3u: { return sigmoid(x); }
        // tanh(±15) is ±1 in f32; clamping keeps drivers that compute tanh through exp from NaN.
        case 4u: { return tanh(clamp(x, -15.0, 15.0)); }
        default: { return x; }
    }
}

// act'(x) written through the output y = act(x).
fn act_derivative_from_output(code: u32, slope: f32, y: f32) -> f32 {
    switch code {
        case 1u: { return select(0.0, 1.0, y > 0.0); }
        case 2u: { return select(slope, 1.0, y > 0.0); }
        case 3u: { return y * (1.0 - y); }
        case 4u: { return 1.0 - y * y; }
        default: { return 1.0; }
    }
}
