package io.animatediff.gateway;

import io.animatediff.common.Json;
import io.animatediff.common.registry.RegistryModelCatalog;
import io.animatediff.common.validation.Violation;
import io.smallrye.common.annotation.Blocking;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.time.Clock;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * {@code POST /v1/trainings} (queue a motion-module or MotionLoRA training job on {@code
 * animatediff.train}) and {@code GET /v1/trainings/<id>} (the same job view as {@code /v1/jobs/<id>}:
 * progress carries loss and samples per second, results the registered model file).
 */
@Path("/v1/trainings")
public class TrainingResource {
    @Inject
    RegistryModelCatalog catalog;

    @Inject
    FrameLimits frameLimits;

    @Inject
    JobStateView view;

    @Inject
    JobPublisher publisher;

    @Inject
    Clock clock;

    @Inject
    GatewayConfig config;

    @Inject
    JobService jobs;

    @Inject
    Caller caller;

    @Inject
    QueueQuota quota;

    private TrainingSubmissionService trainings;

    @PostConstruct
    void init() {
        trainings = new TrainingSubmissionService(
                catalog,
                frameLimits::maxFrames,
                view,
                quota,
                publisher,
                clock,
                config.validation().publishTimeout());
    }

    @POST
    @Blocking
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Queue one training job (motion module or MotionLoRA)",
            description = "Body: a TrainingRequest (snake_case: kind, dataset_uri, base_model, motion_module,"
                    + " output_name, max_train_steps, ...). 202 with the job id and links; 400 naming every bad"
                    + " field; 422 for an unregistered model or an Idempotency-Key reused with another body.")
    public Response submit(
            @RequestBody(description = "TrainingRequest JSON") String body,
            @HeaderParam(IdempotencyKeys.HEADER) String idempotencyKey) {
        SubmissionService.Accepted a = trainings.submit(body, caller.keyHash(), idempotencyKey);
        JobView.Links links = JobView.Links.of(a.jobId());
        AnimationResource.AcceptedJob entity = new AnimationResource.AcceptedJob(
                a.jobId(),
                a.status(),
                links,
                a.warnings().stream().map(Violation::message).toList());
        return Response.accepted(Json.write(entity))
                .type(MediaType.APPLICATION_JSON)
                .location(URI.create("/v1/trainings/" + a.jobId()))
                .header("Idempotent-Replayed", a.replayed() ? "true" : null)
                .build();
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "A training job's status, progress (step, loss, samples/s), results and failure")
    public String get(@PathParam("id") String id) {
        JobOwners.checkAccess(id, caller.keyHash());
        return Json.write(jobs.get(id));
    }
}
