# Gateway image (Quarkus, JVM mode): HTTP API, web page, Kafka producer/state view, webhooks.
#
# Build (from the repository root):
#   docker build -f docker/gateway.Dockerfile -t animatediff/gateway:0.1.0 .
# Run (Kafka and S3 from docker/compose.yaml, or any others):
#   docker run --rm -p 8080:8080 \
#     -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#     -e ANIMATEDIFF_S3_ENDPOINT=http://minio:9000 -e ANIMATEDIFF_S3_ACCESS_KEY=animatediff \
#     -e ANIMATEDIFF_S3_SECRET_KEY=animatediff-secret -e ANIMATEDIFF_S3_BUCKET=animatediff \
#     -e ANIMATEDIFF_API_KEY_HASHES=<sha256 hex of your key> animatediff/gateway:0.1.0
# Then: http://localhost:8080/ (web page), /q/health/ready, /q/metrics, /q/openapi.

FROM eclipse-temurin:17.0.15_6-jdk-jammy AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -q -pl gateway -am package -DskipTests

FROM eclipse-temurin:17.0.15_6-jre-jammy
RUN groupadd --system --gid 10001 animatediff \
 && useradd --system --uid 10001 --gid animatediff --home-dir /app --shell /usr/sbin/nologin animatediff
WORKDIR /app
COPY --from=build --chown=10001:10001 /src/gateway/target/quarkus-app/ /app/
USER 10001:10001
ENV QUARKUS_HTTP_PORT=8080 \
    QUARKUS_HTTP_HOST=0.0.0.0 \
    JAVA_OPTS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${QUARKUS_HTTP_PORT} && printf 'GET /q/health/ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/bin/sh", "-c", "exec java $JAVA_OPTS -jar /app/quarkus-run.jar"]
