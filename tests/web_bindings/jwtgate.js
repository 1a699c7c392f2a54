// The import module `jwtgate` for tests/web_bindings.rs under wasm-bindgen-test-runner, which
// requires it by name (NODE_PATH, set by `cargo xtask test`): what pkg/client-wasm.js's
// `imports` gives the package's wasm, the engine's `Number` over the text the core lends it.
let memory;

/** The test's wasm memory, handed over by the test before it parses (`share` there). */
exports.share = (m) => {
  memory = m;
};

exports.number = (at, len) => Number(new TextDecoder().decode(new Uint8Array(memory.buffer, at, len)));
