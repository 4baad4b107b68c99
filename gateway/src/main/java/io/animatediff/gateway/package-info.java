/**
 * The fleet's HTTP gateway (Quarkus). Resources are thin: they parse, delegate to plain classes and
 * map results to HTTP.
 *
 * <ul>
 *   <li>{@link io.animatediff.gateway.SubmissionService}: validate, idempotency, seed, publish.
 *   <li>{@link io.animatediff.gateway.JobStateView}: job states folded from {@code
 *       animatediff.job-events} by {@link io.animatediff.gateway.StateViewConsumer} (every replica
 *       reads every partition from the beginning, no consumer group).
 *   <li>{@link io.animatediff.gateway.JobService}: job views with presigned result URLs, paging,
 *       cancel.
 *   <li>{@link io.animatediff.gateway.ModelService}: model upload (streamed or presigned), list,
 *       delete over {@link io.animatediff.common.registry.ModelRegistry}.
 *   <li>{@link io.animatediff.gateway.ApiKeys} and {@link io.animatediff.gateway.RateLimiter}:
 *       bearer keys stored as sha256, per-key token buckets.
 * </ul>
 *
 * <p>The gateway depends on {@code common} only and never loads libtorch.
 */
package io.animatediff.gateway;
