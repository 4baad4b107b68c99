package io.animatediff.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.animatediff.common.Json;
import io.animatediff.common.Topics;
import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.registry.RegistryModelCatalog;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.common.validation.GenerationRequestValidator;
import io.animatediff.common.validation.TokenCounter;
import io.animatediff.common.validation.ValidationLimits;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.producer.KafkaProducer;

/** Wires the plain classes into CDI and runs startup (topics, bucket, state view) and shutdown. */
@ApplicationScoped
public class GatewayBeans {

    @Produces
    @Singleton
    ObjectMapper objectMapper() {
        return Json.mapper();
    }

    @Produces
    @Singleton
    Clock clock() {
        return Clock.systemUTC();
    }

    @Produces
    @Singleton
    ApiKeys apiKeys(GatewayConfig config) {
        return new ApiKeys(config.apiKeyHashes().orElse(List.of()));
    }

    @Produces
    @Singleton
    RateLimiter rateLimiter(GatewayConfig config) {
        return new RateLimiter(config.rateLimit().rate(), config.rateLimit().burst());
    }

    @Produces
    @Singleton
    ObjectStore objectStore(GatewayConfig config) {
        GatewayConfig.S3 s3 = config.s3();
        ObjectStore store = new ObjectStore(
                new StoreConfig(s3.endpoint(), s3.accessKey(), s3.secretKey(), s3.bucket(), s3.region()));
        if (s3.createBucket()) {
            store.ensureBucket();
        }
        return store;
    }

    void closeStore(@Disposes ObjectStore store) {
        store.close();
    }

    @Produces
    @Singleton
    ModelRegistry modelRegistry(ObjectStore store) {
        return new ModelRegistry(store);
    }

    @Produces
    @Singleton
    RegistryModelCatalog catalog(ModelRegistry registry, GatewayConfig config) {
        return new RegistryModelCatalog(registry, config.validation().modelCacheTtl());
    }

    @Produces
    @Singleton
    FrameLimits frameLimits(ModelRegistry registry, GatewayConfig config) {
        return new FrameLimits(
                name -> registry.find(ModelKind.MOTION, name),
                config.validation().defaultMaxFrames(),
                config.validation().modelCacheTtl(),
                System::nanoTime);
    }

    @Produces
    @Singleton
    JobStateView jobStateView() {
        return new JobStateView();
    }

    @Produces
    @Singleton
    KafkaProducer<String, byte[]> producer(KafkaConfig kafka) {
        return KafkaClients.producer(kafka.bootstrapServers());
    }

    void closeProducer(@Disposes KafkaProducer<String, byte[]> producer) {
        producer.close(Duration.ofSeconds(5));
    }

    @Produces
    @Singleton
    JobPublisher publisher(KafkaProducer<String, byte[]> producer) {
        return KafkaClients.publisher(producer);
    }

    @Produces
    @Singleton
    StateViewConsumer stateViewConsumer(KafkaConfig kafka, GatewayConfig config, JobStateView view, Clock clock) {
        return new StateViewConsumer(
                () -> KafkaClients.stateViewConsumer(kafka.bootstrapServers()),
                Topics.JOB_EVENTS,
                view,
                config.stateView().pollTimeout(),
                config.stateView().refreshInterval(),
                clock);
    }

    void closeStateView(@Disposes StateViewConsumer consumer) {
        consumer.close();
    }

    @Produces
    @Singleton
    SubmissionService submissions(
            RegistryModelCatalog catalog,
            FrameLimits frameLimits,
            JobStateView view,
            QueueQuota quota,
            JobPublisher publisher,
            Clock clock,
            GatewayConfig config) {
        GenerationRequestValidator validator =
                new GenerationRequestValidator(ValidationLimits.DEFAULTS, catalog, TokenCounter.NONE);
        return new SubmissionService(
                validator,
                catalog,
                frameLimits,
                view,
                quota,
                publisher,
                clock,
                config.validation().publishTimeout());
    }

    @Produces
    @Singleton
    QueueQuota queueQuota(JobStateView view, GatewayConfig config) {
        return new QueueQuota(
                view,
                config.queueQuota().maxActiveJobsPerKey(),
                config.queueQuota().retryAfter());
    }

    @Produces
    @Singleton
    JobService jobs(JobStateView view, ObjectStore store, JobPublisher publisher, Clock clock, GatewayConfig config) {
        Duration expiry = config.validation().resultUrlExpiry();
        return new JobService(
                view,
                key -> store.presignedGet(key, expiry),
                publisher,
                clock,
                config.validation().publishTimeout());
    }

    @Produces
    @Singleton
    ModelService models(
            ModelRegistry registry,
            RegistryModelCatalog catalog,
            FrameLimits frameLimits,
            Clock clock,
            GatewayConfig config) {
        return new ModelService(
                registry,
                () -> {
                    catalog.invalidate();
                    frameLimits.invalidate();
                },
                config.models().uploadUrlExpiry(),
                new ModelService.Limits(
                        config.models().maxModels(),
                        config.models().maxModelsPerKey(),
                        config.models().maxFileBytes()),
                clock);
    }

    /** 1. topics, 2. the bucket (by resolving the store), 3. the state view. */
    void onStart(
            @Observes StartupEvent event,
            KafkaConfig kafka,
            GatewayConfig config,
            ObjectStore store,
            StateViewConsumer stateView) {
        if (config.topics().create()) {
            KafkaClients.createTopics(
                    kafka.bootstrapServers(),
                    config.topics().partitions(),
                    config.topics().replicationFactor(),
                    Duration.ofSeconds(30));
        }
        store.bucket();
        stateView.start();
    }

    void onStop(@Observes ShutdownEvent event, StateViewConsumer stateView) {
        stateView.close();
    }
}
