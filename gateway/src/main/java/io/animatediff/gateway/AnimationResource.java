package io.animatediff.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.animatediff.common.Json;
import io.animatediff.common.trace.JobContext;
import io.animatediff.common.trace.TraceParent;
import io.animatediff.common.validation.Violation;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * {@code POST /v1/animations}: thin, delegates to {@link SubmissionService}. Validation runs on a
 * worker thread (the model catalog may read S3); the answer is then completed by Kafka's
 * acknowledgement, so no thread waits for the broker.
 */
@Path("/v1/animations")
public class AnimationResource {
    @Inject
    SubmissionService submissions;

    @Inject
    Caller caller;

    @Inject
    GatewayMetrics metrics;

    @Inject
    WebhookStartup webhooks;

    /** The 202 answer. */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record AcceptedJob(
            @JsonProperty("job_id") String jobId,
            @JsonProperty("status") JobStatus status,
            @JsonProperty("links") JobView.Links links,
            @JsonProperty("warnings") List<String> warnings) {}

    @POST
    @Blocking
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Queue one AnimateDiff generation",
            description = "Body: a GenerationRequest (diffusers parameter names, snake_case). 202 with the job id"
                    + " and links; 400 naming every bad field; 422 for an unregistered model or an Idempotency-Key"
                    + " reused with another body.")
    public CompletionStage<Response> submit(
            @Context UriInfo uri,
            @RequestBody(description = "GenerationRequest JSON") String body,
            @HeaderParam(IdempotencyKeys.HEADER) String idempotencyKey,
            @HeaderParam(TraceParent.HEADER) String traceparent,
            @HeaderParam(WebhookSettings.CALLBACK_HEADER) String callbackUrl) {
        Map<String, String> context = new HashMap<>();
        if (traceparent != null) {
            context.put(TraceParent.HEADER, traceparent);
        }
        if (callbackUrl != null && !callbackUrl.isBlank()) {
            Optional<String> refusal = webhooks.settings().refusal(callbackUrl);
            if (refusal.isPresent()) {
                metrics.rejected("callback_not_allowed");
                throw ProblemException.badField(WebhookSettings.CALLBACK_HEADER, refusal.get());
            }
            context.put(JobContext.CALLBACK, callbackUrl);
        }
        String trace;
        CompletionStage<SubmissionService.Accepted> accepted;
        try (JobContext.Scope scope = JobContext.open(context)) {
            trace = JobContext.traceparent();
            accepted = submissions.submitAsync(body, caller.keyHash(), idempotencyKey);
        }
        // resolved here: the answer may be built on the producer's thread, outside the request
        URI base = uri.getBaseUri();
        return accepted.handle((a, e) -> {
            if (e == null) {
                return accepted(a, base, trace);
            }
            Throwable t = SubmissionService.unwrap(e);
            if (t instanceof ProblemException pe) {
                return Problems.response(metrics, pe);
            }
            throw new CompletionException(t);
        });
    }

    private Response accepted(SubmissionService.Accepted a, URI base, String trace) {
        metrics.submitted(a.replayed());
        JobView.Links links = JobView.Links.of(a.jobId());
        AcceptedJob entity = new AcceptedJob(
                a.jobId(),
                a.status(),
                links,
                a.warnings().stream().map(Violation::message).toList());
        return Response.accepted(Json.write(entity))
                .type(MediaType.APPLICATION_JSON)
                .location(base.resolve(links.self()))
                .header("Idempotent-Replayed", a.replayed() ? "true" : null)
                .header(TraceParent.HEADER, trace)
                .build();
    }
}
