/**
 * The generation worker: consumes {@code animatediff.generate} (group {@code workers}), resolves
 * models through the registry into a disk cache keyed by sha256 and an in-memory LRU of loaded
 * models, runs the engine's pipeline, writes results to {@code results/<jobId>/} and publishes job
 * events. See {@code docs/fleet-contract.md} for the protocol it implements.
 */
package io.animatediff.worker;
