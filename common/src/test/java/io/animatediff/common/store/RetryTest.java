package io.animatediff.common.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Retries against a scripted HTTP server: 503 SlowDown answers are retried, then succeed or fail clearly. */
class RetryTest {
    private static final String SLOW_DOWN = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
            + "<Message>Please reduce your request rate.</Message><Resource>/b/k</Resource><RequestId>1</RequestId>"
            + "</Error>";

    /** A server answering 503 SlowDown to the first {@code failures} requests, then 200 with "hello". */
    static HttpServer server(int failures, AtomicInteger hits) throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/", exchange -> {
            int n = hits.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            if (n <= failures) {
                byte[] body = SLOW_DOWN.getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/xml");
                exchange.sendResponseHeaders(503, body.length);
                exchange.getResponseBody().write(body);
            } else {
                byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("ETag", "\"abc\"");
                exchange.getResponseHeaders().add("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        http.start();
        return http;
    }

    static StoreConfig config(HttpServer http) {
        return new StoreConfig("http://127.0.0.1:" + http.getAddress().getPort(), "a", "b", "test-bucket", "us-east-1");
    }

    @Test
    void transientServerErrorsAreRetriedUntilSuccess() throws Exception {
        AtomicInteger hits = new AtomicInteger();
        HttpServer http = server(2, hits);
        try (ObjectStore store =
                new ObjectStore(config(http), new RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(20)))) {
            assertEquals("hello", store.getString("k"));
            assertEquals(3, hits.get(), "two 503s, then success; the client's own retry interceptor is off");
        } finally {
            http.stop(0);
        }
    }

    @Test
    void transientServerErrorsExhaustTheAttempts() throws Exception {
        AtomicInteger hits = new AtomicInteger();
        HttpServer http = server(100, hits);
        try (ObjectStore store =
                new ObjectStore(config(http), new RetryPolicy(2, Duration.ofMillis(10), Duration.ofMillis(10)))) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> store.getBytes("k"));
            assertEquals(2, hits.get());
            assertTrue(e.isTransient());
            assertTrue(
                    e.getMessage().contains("SlowDown") && e.getMessage().contains("after 2 attempts"), e.getMessage());
        } finally {
            http.stop(0);
        }
    }

    @Test
    void backoffDoublesUpToTheCap() {
        RetryPolicy p = new RetryPolicy(5, Duration.ofMillis(100), Duration.ofMillis(350));
        assertEquals(Duration.ofMillis(100), p.backoff(1));
        assertEquals(Duration.ofMillis(200), p.backoff(2));
        assertEquals(Duration.ofMillis(350), p.backoff(3));
        assertEquals(Duration.ofMillis(350), p.backoff(40));
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy(0, Duration.ZERO, Duration.ZERO));
    }
}
