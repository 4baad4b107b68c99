package io.animatediff.gateway;

import io.animatediff.common.Json;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** {@code /v1/models}: thin, delegates to {@link ModelService}. */
@Path("/v1/models")
@Blocking
public class ModelResource {
    @Inject
    ModelService models;

    @Inject
    Caller caller;

    /** The caller's owner tag, recorded in the manifests it registers. */
    private String owner() {
        return JobOwners.tag(caller.keyHash());
    }

    @POST
    @Path("{kind}/{name}")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Register a one-file model by streaming the file (Content-Length required; X-Sha256 checked"
                    + " when sent); 201 with the manifest, 200 when the same file is already registered, 413 over"
                    + " the file size limit, 409 over the key's or the fleet's model limit")
    public Response upload(
            @PathParam("kind") String kind,
            @PathParam("name") String name,
            @QueryParam("path") String path,
            @QueryParam("format") String format,
            @QueryParam("max_frames") Integer maxFrames,
            @HeaderParam("X-Sha256") String sha256,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) Long length,
            InputStream body) {
        ModelService.Registered r =
                models.upload(kind, name, path, format, maxFrames, sha256, length == null ? -1 : length, body, owner());
        return Response.status(r.created() ? 201 : 200)
                .type(MediaType.APPLICATION_JSON)
                .entity(Json.write(r.manifest()))
                .build();
    }

    @POST
    @Path("{kind}/{name}/uploads")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Presigned PUT URLs for each file of a multi-file model; then call finalize")
    public String planUpload(@PathParam("kind") String kind, @PathParam("name") String name, String body) {
        return Json.write(models.planUpload(kind, name, body, owner()));
    }

    @POST
    @Path("{kind}/{name}/finalize")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Register files uploaded with presigned PUTs: body {format, files: [{path, sha256, size}],"
                    + " config}; every file's size and sha256 are checked (422, or 413 over the file size limit;"
                    + " either deletes the model's uploads)")
    public Response finalizeUpload(@PathParam("kind") String kind, @PathParam("name") String name, String body) {
        return Response.status(201)
                .type(MediaType.APPLICATION_JSON)
                .entity(Json.write(models.finalizeUpload(kind, name, body, owner())))
                .build();
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Registered models, of one kind or all")
    public String list(@QueryParam("kind") String kind) {
        return Json.write(models.list(kind));
    }

    @GET
    @Path("{kind}/{name}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "One model's manifest")
    public String get(@PathParam("kind") String kind, @PathParam("name") String name) {
        return Json.write(models.get(kind, name));
    }

    @DELETE
    @Path("{kind}/{name}")
    @Operation(
            summary = "Unregister a model and delete its files; 204, 404 when not registered, 403 when another API"
                    + " key registered it")
    public Response delete(@PathParam("kind") String kind, @PathParam("name") String name) {
        models.delete(kind, name, owner());
        return Response.noContent().build();
    }
}
