package io.animatediff.gateway;

import io.animatediff.common.InvalidMessageException;
import io.animatediff.common.Json;
import io.animatediff.common.store.ObjectStoreException;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Maps refusals and infrastructure failures to {@code application/problem+json}. */
public class Problems {
    private static final Logger LOG = Logger.getLogger(Problems.class.getName());

    // resolved per use: mappers are built at startup, before runtime configuration exists
    @Inject
    Instance<GatewayMetrics> metrics;

    /** The response for a refusal; counts it by reason. */
    static Response response(GatewayMetrics metrics, ProblemException e) {
        metrics.rejected(e.reason());
        Response.ResponseBuilder b =
                Response.status(e.status()).type(Problem.MEDIA_TYPE).entity(Json.write(e.problem()));
        e.headers().forEach(b::header);
        return b.build();
    }

    @ServerExceptionMapper
    public Response refusal(ProblemException e) {
        return response(metrics.get(), e);
    }

    @ServerExceptionMapper
    public Response invalid(InvalidMessageException e) {
        return response(metrics.get(), ProblemException.badField(e.field(), e.problem()));
    }

    @ServerExceptionMapper
    public Response storage(ObjectStoreException e) {
        LOG.log(Level.WARNING, "object store failure", e);
        return response(
                metrics.get(),
                new ProblemException(
                        "storage_unavailable",
                        Problem.of(
                                503,
                                "storage-unavailable",
                                "Object storage unavailable",
                                e.getMessage() + ": retry later",
                                List.of())));
    }
}
