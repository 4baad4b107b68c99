# Worker image (GPU): the engine on DJL with a CUDA libtorch. Maven Central has no CUDA libtorch for
# DJL 0.36 / PyTorch 2.7.1, so the runtime stage starts FROM the official CUDA PyTorch image and hands
# its libtorch to DJL through PYTORCH_LIBRARY_PATH (the CPU native jar is left out of the image; the
# cu128 JNI binding ships in ai.djl.pytorch:pytorch-jni). Needs the NVIDIA container toolkit and a
# driver for CUDA 12.8 (R570 or newer).
#
# Build (from the repository root):
#   docker build -f docker/worker.Dockerfile -t animatediff/worker:0.1.0 .
# Run:
#   docker run --rm --gpus all -p 8081:8081 \
#     -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#     -e ANIMATEDIFF_S3_ENDPOINT=http://minio:9000 -e ANIMATEDIFF_S3_ACCESS_KEY=animatediff \
#     -e ANIMATEDIFF_S3_SECRET_KEY=animatediff-secret -e ANIMATEDIFF_S3_BUCKET=animatediff \
#     -v animatediff-cache:/var/cache/animatediff animatediff/worker:0.1.0
# Health: GET :8081/ready (200 once the engine is warm), /live, /metrics (Prometheus).
# CPU-only variant (no GPU): --build-arg TORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime still
# works on CPU nodes (libtorch falls back to CPU kernels); set PYTORCH_FLAVOR=cpu only with a CPU libtorch.

ARG TORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime

FROM eclipse-temurin:17.0.15_6-jdk-jammy AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -q -pl worker -am package -DskipTests \
 && rm -f worker/target/lib/pytorch-native-cpu-*.jar

FROM eclipse-temurin:17.0.15_6-jre-jammy AS jre

FROM ${TORCH_IMAGE}
COPY --from=jre /opt/java/openjdk /opt/java/openjdk
# DJL loads libtorch*.so from here instead of unpacking the (absent) CPU native jar. The pairing is
# exact: pytorch-jni 2.7.1-0.36.0 ships one CUDA JNI, linux-x86_64/cu128, linked against
# libtorch_cuda.so/libc10_cuda.so and the C++11 ABI (std::__cxx11 symbols), so the image's torch must be
# 2.7.1 built for CUDA 12.8 with that ABI (2.7.1 also exists for cu118 and cu126: no JNI for those).
# The check fails the build instead of the JNI load at the worker's start.
RUN python -c "import torch; v = (torch.__version__.split('+')[0], torch.version.cuda, torch._C._GLIBCXX_USE_CXX11_ABI); \
assert v == ('2.7.1', '12.8', True), 'DJL 0.36.0 needs torch 2.7.1 + CUDA 12.8 + C++11 ABI, the image has %s' % (v,)" \
 && ln -s "$(python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib" /opt/libtorch \
 && ls /opt/libtorch/libtorch_cuda.so /opt/libtorch/libc10_cuda.so \
 && groupadd --system --gid 10001 animatediff \
 && useradd --system --uid 10001 --gid animatediff --home-dir /app --shell /usr/sbin/nologin animatediff \
 && mkdir -p /var/cache/animatediff /app/.djl.ai \
 && chown -R 10001:10001 /var/cache/animatediff /app
WORKDIR /app
COPY --from=build --chown=10001:10001 /src/worker/target/classes/ /app/classes/
COPY --from=build --chown=10001:10001 /src/worker/target/lib/ /app/lib/
USER 10001:10001
ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:$PATH \
    PYTORCH_LIBRARY_PATH=/opt/libtorch \
    PYTORCH_VERSION=2.7.1 \
    PYTORCH_FLAVOR=cu128 \
    DJL_CACHE_DIR=/app/.djl.ai \
    DJL_OFFLINE=true \
    ANIMATEDIFF_CACHE_DIR=/var/cache/animatediff \
    ANIMATEDIFF_WORKER_HEALTH_PORT=8081 \
    JAVA_OPTS="-Xmx4g -XX:+ExitOnOutOfMemoryError -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1"
EXPOSE 8081
VOLUME ["/var/cache/animatediff"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ['ANIMATEDIFF_WORKER_HEALTH_PORT'], timeout=2)"]
ENTRYPOINT ["/bin/sh", "-c", "exec java $JAVA_OPTS -cp '/app/classes:/app/lib/*' io.animatediff.worker.WorkerMain"]
