package io.animatediff.gateway;

import io.animatediff.common.store.S3ProxyServer;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;

/** A real S3-protocol server in-process (S3Proxy, in memory) for {@code @QuarkusTest}s. */
public class InProcessS3 implements QuarkusTestResourceLifecycleManager {
    static final String BUCKET = "gateway-test";
    static volatile S3ProxyServer server;

    @Override
    public Map<String, String> start() {
        try {
            server = S3ProxyServer.startInMemory();
        } catch (Exception e) {
            throw new IllegalStateException("S3Proxy did not start: " + e, e);
        }
        return Map.of(
                "animatediff.s3.endpoint",
                server.endpoint(),
                "animatediff.s3.access-key",
                S3ProxyServer.ACCESS_KEY,
                "animatediff.s3.secret-key",
                S3ProxyServer.SECRET_KEY,
                "animatediff.s3.bucket",
                BUCKET);
    }

    @Override
    public void stop() {
        if (server != null) {
            try {
                server.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
