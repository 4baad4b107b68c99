package io.animatediff.gateway;

import io.animatediff.common.Json;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import java.util.Locale;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** {@code /v1/jobs}: thin, delegates to {@link JobService} and {@link JobEventStream}. */
@Path("/v1/jobs")
public class JobResource {
    @Inject
    JobService jobs;

    @Inject
    JobStateView view;

    @Inject
    Caller caller;

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "A job's status, progress, result URLs (presigned) and failure")
    public String get(@PathParam("id") String id) {
        JobOwners.checkAccess(id, caller.keyHash());
        return Json.write(jobs.get(id));
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Jobs, newest first, optionally of one status; page counts from 0")
    public String list(
            @QueryParam("status") String status,
            @QueryParam("page") @DefaultValue("0") int page,
            @QueryParam("size") @DefaultValue("20") int size) {
        return Json.write(jobs.list(status, page, size, caller.keyHash()));
    }

    @GET
    @Path("{id}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(
            summary = "Server-Sent Events: one per state change (event = lower-case event type, data = the job"
                    + " view); ends after a terminal event")
    public Multi<OutboundSseEvent> events(@PathParam("id") String id, @Context Sse sse) {
        JobOwners.checkAccess(id, caller.keyHash());
        jobs.state(id); // 404 before the stream starts
        return JobEventStream.of(view, id)
                .map(s -> sse.newEventBuilder()
                        .name(s.lastEvent().name().toLowerCase(Locale.ROOT))
                        .id(Long.toString(s.version()))
                        .mediaType(MediaType.TEXT_PLAIN_TYPE)
                        .data(String.class, Json.write(jobs.toView(s)))
                        .build());
    }

    @POST
    @Path("{id}/cancel")
    @Blocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Ask the workers to cancel a job: 202; 409 when it already ended; 404 when unknown")
    public Response cancel(@PathParam("id") String id, @QueryParam("reason") String reason) {
        JobOwners.checkAccess(id, caller.keyHash());
        return Response.accepted(Json.write(jobs.cancel(id, reason)))
                .type(MediaType.APPLICATION_JSON)
                .build();
    }
}
