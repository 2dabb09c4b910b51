// The counter-based generator's integer hash, bit for bit src/backend/rng.rs: a draw is a pure
// function of (seed, stream, counter). Prepended to the families that draw random numbers.

// Chris Wellons' lowbias32.
fn hash(v: u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

fn stream_key(seed: u32, stream: u32) -> u32 {
    return hash(seed ^ hash(stream + 0x9e3779b9u));
}

fn random_bits(key: u32, counter: u32) -> u32 {
    return hash(hash(counter + key) ^ key);
}
