# Trainer image (GPU): trains a motion module or MotionLoRA from a dataset in the object store and
# registers the result. Same libtorch route as the worker (CUDA PyTorch base image + PYTORCH_LIBRARY_PATH).
#
# Build (from the repository root):
#   docker build -f docker/trainer.Dockerfile -t animatediff/trainer:0.1.0 .
# Run (consumes animatediff.train until stopped):
#   docker run --rm --gpus all -p 8082:8082 \
#     -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#     -e ANIMATEDIFF_S3_ENDPOINT=http://minio:9000 -e ANIMATEDIFF_S3_ACCESS_KEY=animatediff \
#     -e ANIMATEDIFF_S3_SECRET_KEY=animatediff-secret -e ANIMATEDIFF_S3_BUCKET=animatediff \
#     animatediff/trainer:0.1.0
# The main class is a build argument (TRAINER_MAIN) so the image follows the trainer module.

ARG TORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime

FROM eclipse-temurin:17.0.15_6-jdk-jammy AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -q -pl trainer -am package -DskipTests \
 && mkdir -p trainer/target/lib \
 && ./mvnw -B -q -pl trainer dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib \
 && rm -f trainer/target/lib/pytorch-native-cpu-*.jar

FROM eclipse-temurin:17.0.15_6-jre-jammy AS jre

FROM ${TORCH_IMAGE}
ARG TRAINER_MAIN=io.animatediff.trainer.TrainerMain
COPY --from=jre /opt/java/openjdk /opt/java/openjdk
RUN ln -s "$(python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib" /opt/libtorch \
 && groupadd --system --gid 10001 animatediff \
 && useradd --system --uid 10001 --gid animatediff --home-dir /app --shell /usr/sbin/nologin animatediff \
 && mkdir -p /var/cache/animatediff /app/.djl.ai \
 && chown -R 10001:10001 /var/cache/animatediff /app
WORKDIR /app
COPY --from=build --chown=10001:10001 /src/trainer/target/classes/ /app/classes/
COPY --from=build --chown=10001:10001 /src/trainer/target/lib/ /app/lib/
USER 10001:10001
ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:$PATH \
    PYTORCH_LIBRARY_PATH=/opt/libtorch \
    PYTORCH_VERSION=2.7.1 \
    PYTORCH_FLAVOR=cu128 \
    DJL_CACHE_DIR=/app/.djl.ai \
    DJL_OFFLINE=true \
    ANIMATEDIFF_CACHE_DIR=/var/cache/animatediff \
    ANIMATEDIFF_TRAINER_HEALTH_PORT=8082 \
    TRAINER_MAIN=${TRAINER_MAIN} \
    JAVA_OPTS="-Xmx8g -XX:+ExitOnOutOfMemoryError -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1"
EXPOSE 8082
# the process is alive and its JVM answers: training has no readiness beyond "running"
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/sh", "-c", "kill -0 1"]
ENTRYPOINT ["/bin/sh", "-c", "exec java $JAVA_OPTS -cp '/app/classes:/app/lib/*' $TRAINER_MAIN \"$@\"", "trainer"]
