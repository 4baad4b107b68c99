package io.animatediff.gateway;

import java.util.concurrent.CompletableFuture;

/** Publishes one keyed message; the future completes once the broker acknowledged it (acks=all). */
@FunctionalInterface
public interface JobPublisher {
    CompletableFuture<Void> send(String topic, String key, byte[] value);
}
