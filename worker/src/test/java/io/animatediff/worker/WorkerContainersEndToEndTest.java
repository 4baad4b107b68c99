package io.animatediff.worker;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.StoreConfig;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The same end-to-end scenarios as {@link WorkerEndToEndTest}, on the real Kafka (apache/kafka, KRaft)
 * and MinIO images. Needs a Docker engine: skipped where none runs (as on the CI machines here, where
 * the in-process variant covers the scenarios).
 */
@Testcontainers(disabledWithoutDocker = true)
class WorkerContainersEndToEndTest extends WorkerEndToEndTest {
    static final String KAFKA_IMAGE = "apache/kafka:4.1.1";
    static final String MINIO_IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z";

    /** A Kafka container and a MinIO container, stopped with the fleet. */
    static final class Containers implements FleetFixture.Infrastructure {
        private final KafkaContainer kafka = new KafkaContainer(KAFKA_IMAGE);
        private final MinIOContainer minio = new MinIOContainer(MINIO_IMAGE);

        Containers() {
            kafka.start();
            minio.start();
        }

        @Override
        public String bootstrapServers() {
            return kafka.getBootstrapServers();
        }

        @Override
        public ObjectStore newStore(String bucket) {
            ObjectStore store = new ObjectStore(
                    new StoreConfig(minio.getS3URL(), minio.getUserName(), minio.getPassword(), bucket, "us-east-1"));
            store.ensureBucket();
            return store;
        }

        @Override
        public void close() {
            minio.stop();
            kafka.stop();
        }
    }

    @Override
    FleetFixture newFleet() throws Exception {
        return new FleetFixture(new Containers());
    }
}
