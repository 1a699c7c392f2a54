// The cases the Rust tests export (tests/attacks.rs), so every front door runs the same ones.
import { readFileSync } from 'node:fs';

const path = process.env.JWTGATE_FIXTURES;
if (!path) throw new Error('JWTGATE_FIXTURES is not set: run these through `cargo xtask test`');

export const fx = JSON.parse(readFileSync(path, 'utf8'));
export const ALL_ALGORITHMS = Object.keys(fx.tokens);

/** The JSON text of a key set holding the fixtures' keys named by `kids`. */
export const keyset = (...kids) => JSON.stringify({ keys: kids.map((kid) => fx.jwks.keys.find((k) => k.kid === kid)) });
