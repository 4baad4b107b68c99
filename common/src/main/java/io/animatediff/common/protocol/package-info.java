/**
 * The job protocol, defined once: immutable records carried as JSON on Kafka and over HTTP.
 *
 * <ul>
 *   <li>Parameter names are diffusers' ({@code num_inference_steps}, {@code guidance_scale}, ...),
 *       snake_case in JSON, camelCase in Java.
 *   <li>Every queue message ({@link io.animatediff.common.protocol.GenerationJob}, {@link
 *       io.animatediff.common.protocol.TrainingJob}, {@link io.animatediff.common.protocol.JobEvent},
 *       {@link io.animatediff.common.protocol.CancelRequest}) carries {@code "schema": 1} ({@link
 *       io.animatediff.common.protocol.Schema}). A message without it, or with a newer number, is
 *       refused with a message saying so. User request bodies ({@link
 *       io.animatediff.common.protocol.GenerationRequest}, {@link
 *       io.animatediff.common.protocol.TrainingRequest}) have no schema field: the HTTP API version
 *       is in the path.
 *   <li>Records check structure (job ids, required fields, null list entries) and throw {@link
 *       io.animatediff.common.InvalidMessageException} naming the JSON field. Ranges and model names
 *       are checked by the shared validators in {@code io.animatediff.common.validation}, which
 *       report every problem at once instead of throwing.
 *   <li>Unknown JSON fields: see {@link io.animatediff.common.Json}.
 * </ul>
 */
package io.animatediff.common.protocol;
