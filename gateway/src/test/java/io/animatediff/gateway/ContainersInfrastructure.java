package io.animatediff.gateway;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.StoreConfig;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The real Kafka (apache/kafka, KRaft) and MinIO images for {@code @QuarkusTest}s, the same images
 * as the worker's {@code WorkerContainersEndToEndTest}; needs a Docker engine.
 */
public class ContainersInfrastructure implements QuarkusTestResourceLifecycleManager {
    static final String KAFKA_IMAGE = "apache/kafka:4.1.1";
    static final String MINIO_IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z";
    static final String BUCKET = "gateway-containers-test";
    static final String REGION = "us-east-1";

    static volatile String bootstrapServers;
    static volatile StoreConfig store;

    private KafkaContainer kafka;
    private MinIOContainer minio;

    @Override
    public Map<String, String> start() {
        kafka = new KafkaContainer(KAFKA_IMAGE);
        minio = new MinIOContainer(MINIO_IMAGE);
        kafka.start();
        minio.start();
        bootstrapServers = kafka.getBootstrapServers();
        store = new StoreConfig(minio.getS3URL(), minio.getUserName(), minio.getPassword(), BUCKET, REGION);
        return Map.of(
                "kafka.bootstrap.servers",
                bootstrapServers,
                "animatediff.s3.endpoint",
                store.endpoint(),
                "animatediff.s3.access-key",
                store.accessKey(),
                "animatediff.s3.secret-key",
                store.secretKey(),
                "animatediff.s3.bucket",
                BUCKET,
                "animatediff.s3.region",
                REGION);
    }

    /** A client of the MinIO container's bucket (created when missing). */
    static ObjectStore newStore() {
        ObjectStore s = new ObjectStore(store);
        s.ensureBucket();
        return s;
    }

    @Override
    public void stop() {
        if (minio != null) {
            minio.stop();
        }
        if (kafka != null) {
            kafka.stop();
        }
    }
}
