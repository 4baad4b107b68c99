package io.animatediff.common.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The object store against a real S3-protocol server (S3Proxy, in-process). */
class ObjectStoreTest {
    static S3ProxyServer s3;
    static ObjectStore store;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3ProxyServer.startInMemory();
        store = s3.newStore("test-bucket");
    }

    @AfterAll
    static void stop() throws Exception {
        store.close();
        s3.close();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void putBytesReturnsSha256AndGetReturnsThem() throws Exception {
        byte[] data = "hello animatediff".getBytes(StandardCharsets.UTF_8);
        PutResult put = store.put("t/hello.txt", data, PutOptions.DEFAULT.withContentType("text/plain"));
        assertEquals(Sha256.hex(data), put.sha256());
        assertEquals(data.length, put.size());
        assertArrayEquals(data, store.getBytes("t/hello.txt"));
        try (InputStream in = store.get("t/hello.txt")) {
            assertArrayEquals(data, in.readAllBytes());
        }
        ObjectInfo info = store.stat("t/hello.txt");
        assertEquals(data.length, info.size());
        assertEquals(put.sha256(), info.sha256().orElseThrow());
        assertEquals("text/plain", info.contentType());
        assertTrue(store.exists("t/hello.txt"));
        assertEquals(put.sha256(), store.computeSha256("t/hello.txt"));
    }

    @Test
    void knownSha256() {
        // sha256 of "abc" (FIPS 180-2 test vector)
        assertEquals(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                Sha256.hex("abc".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void putFileVerifiedAndDownloadChecked() throws Exception {
        byte[] data = random(300_000, 1);
        Path file = Files.write(tmp.resolve("weights.bin"), data);
        PutResult put = store.put("t/weights.bin", file, PutOptions.DEFAULT.verified());
        assertEquals(Sha256.hex(data), put.sha256());
        Path target = tmp.resolve("cache/ab/weights.bin");
        assertEquals(put.sha256(), store.download("t/weights.bin", target, put.sha256()));
        assertArrayEquals(data, Files.readAllBytes(target));

        Path other = tmp.resolve("cache/other.bin");
        ChecksumMismatchException e = assertThrows(
                ChecksumMismatchException.class, () -> store.download("t/weights.bin", other, "0".repeat(64)));
        assertFalse(Files.exists(other), "nothing is written on a mismatch");
        assertTrue(e.getMessage().contains("t/weights.bin") && e.getMessage().contains("0".repeat(64)), e.getMessage());
        try (var files = Files.list(tmp.resolve("cache"))) {
            assertEquals(
                    List.of("ab"), files.map(p -> p.getFileName().toString()).toList(), "no temp files left");
        }
    }

    @Test
    void expectedSha256MismatchUploadsNothing() throws Exception {
        byte[] data = random(1000, 2);
        ChecksumMismatchException bytes = assertThrows(
                ChecksumMismatchException.class,
                () -> store.put("t/bad-bytes", data, PutOptions.DEFAULT.expectingSha256("f".repeat(64))));
        assertEquals(Sha256.hex(data), bytes.actual());
        assertFalse(store.exists("t/bad-bytes"));
        Path file = Files.write(tmp.resolve("f.bin"), data);
        assertThrows(
                ChecksumMismatchException.class,
                () -> store.put("t/bad-file", file, PutOptions.DEFAULT.expectingSha256("f".repeat(64))));
        assertFalse(store.exists("t/bad-file"));
        // a correct expectation passes
        assertEquals(
                Sha256.hex(data),
                store.put("t/good-file", file, PutOptions.DEFAULT.expectingSha256(Sha256.hex(data)))
                        .sha256());
    }

    @Test
    void putStreamRecordsSha256AndRefusesMismatch() {
        byte[] data = random(70_000, 3);
        PutResult put =
                store.put("t/stream.bin", new ByteArrayInputStream(data), data.length, PutOptions.DEFAULT.verified());
        assertEquals(Sha256.hex(data), put.sha256());
        ObjectInfo info = store.stat("t/stream.bin");
        assertEquals(put.sha256(), info.sha256().orElseThrow(), "recorded after the upload");
        assertEquals(PutOptions.OCTET_STREAM, info.contentType());
        assertArrayEquals(data, store.getBytes("t/stream.bin"));

        ChecksumMismatchException e = assertThrows(
                ChecksumMismatchException.class,
                () -> store.put(
                        "t/stream-bad.bin",
                        new ByteArrayInputStream(data),
                        data.length,
                        PutOptions.DEFAULT.expectingSha256("e".repeat(64))));
        assertTrue(e.getMessage().contains("deleted"), e.getMessage());
        assertFalse(store.exists("t/stream-bad.bin"));
    }

    @Test
    void listByPrefixSorted() {
        store.put("list/b/2", new byte[] {2});
        store.put("list/a/1", new byte[] {1});
        store.put("list/a/3", new byte[] {3, 3});
        store.put("listing-other", new byte[] {9});
        assertEquals(
                List.of("list/a/1", "list/a/3"),
                store.list("list/a/").stream().map(ObjectSummary::key).toList());
        List<ObjectSummary> all = store.list("list/");
        assertEquals(
                List.of("list/a/1", "list/a/3", "list/b/2"),
                all.stream().map(ObjectSummary::key).toList());
        assertEquals(2, all.get(1).size());
        assertEquals(List.of(), store.list("list/zzz/"));
    }

    @Test
    void presignedGetIsFetchableWithAPlainHttpClient() throws Exception {
        byte[] data = random(5000, 4);
        store.put("results/job-1/animation.gif", data, PutOptions.DEFAULT.withContentType("image/gif"));
        var url = store.presignedGet("results/job-1/animation.gif", Duration.ofMinutes(5));
        assertTrue(
                url.toString().startsWith(s3.endpoint() + "/test-bucket/results/job-1/animation.gif?"), url.toString());
        HttpResponse<byte[]> r = HttpClient.newHttpClient()
                .send(HttpRequest.newBuilder(url).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        assertArrayEquals(data, r.body());
        // tampering with the signature is refused by the server
        var forged = java.net.URI.create(
                url.toString().replaceAll("X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0".repeat(64)));
        assertEquals(
                403,
                HttpClient.newHttpClient()
                        .send(HttpRequest.newBuilder(forged).GET().build(), HttpResponse.BodyHandlers.discarding())
                        .statusCode());
    }

    @Test
    void presignedPutUploadsWithAPlainHttpClient() throws Exception {
        byte[] data = random(12_345, 5);
        var url = store.presignedPut("uploads/model.safetensors", Duration.ofMinutes(5));
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(url)
                                .PUT(HttpRequest.BodyPublishers.ofByteArray(data))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertArrayEquals(data, store.getBytes("uploads/model.safetensors"));
        assertEquals(Sha256.hex(data), store.computeSha256("uploads/model.safetensors"));
        assertTrue(
                store.stat("uploads/model.safetensors").sha256().isEmpty(), "foreign uploads carry no recorded hash");
    }

    @Test
    void presignExpiryMustBeWithinS3Limits() {
        assertThrows(IllegalArgumentException.class, () -> store.presignedGet("a", Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> store.presignedGet("a", Duration.ofDays(8)));
    }

    @Test
    void deleteIsIdempotent() {
        store.put("t/del", new byte[] {1, 2, 3});
        assertTrue(store.exists("t/del"));
        store.delete("t/del");
        assertFalse(store.exists("t/del"));
        store.delete("t/del");
        store.put("t/prefix/a", new byte[] {1});
        store.put("t/prefix/b", new byte[] {1});
        assertEquals(2, store.deletePrefix("t/prefix/"));
        assertEquals(List.of(), store.list("t/prefix/"));
    }

    @Test
    void missingKeyErrorNamesBucketKeyAndEndpoint() {
        ObjectNotFoundException e = assertThrows(ObjectNotFoundException.class, () -> store.getBytes("t/nope.gif"));
        assertEquals("test-bucket", e.bucket());
        assertEquals("t/nope.gif", e.key());
        assertTrue(
                e.getMessage().contains("s3://test-bucket/t/nope.gif")
                        && e.getMessage().contains(s3.endpoint()),
                e.getMessage());
        assertThrows(ObjectNotFoundException.class, () -> store.stat("t/nope.gif"));
        assertThrows(ObjectNotFoundException.class, () -> store.download("t/nope.gif", tmp.resolve("x"), null));
        assertFalse(store.exists("t/nope.gif"));
    }

    @Test
    void missingBucketAndBadCredentialsSaySo() {
        try (ObjectStore noBucket = new ObjectStore(s3.config("no-such-bucket"), RetryPolicy.NONE)) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> noBucket.put("k", new byte[1]));
            assertTrue(
                    e.getMessage().contains("no-such-bucket") && e.getMessage().contains("does not exist"),
                    e.getMessage());
        }
        StoreConfig wrong =
                new StoreConfig(s3.endpoint(), S3ProxyServer.ACCESS_KEY, "wrong-secret", "test-bucket", "us-east-1");
        try (ObjectStore badKey = new ObjectStore(wrong, RetryPolicy.NONE)) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> badKey.getBytes("t/hello.txt"));
            assertTrue(e.getMessage().contains(StoreConfig.ENV_SECRET_KEY), e.getMessage());
            assertFalse(e.isTransient());
        }
    }

    @Test
    void endpointDownFailsClearlyAfterRetries() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        StoreConfig down = new StoreConfig("http://127.0.0.1:" + port, "a", "b", "test-bucket", "us-east-1");
        try (ObjectStore dead =
                new ObjectStore(down, new RetryPolicy(3, Duration.ofMillis(50), Duration.ofMillis(50)))) {
            long t0 = System.nanoTime();
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> dead.getBytes("results/x.gif"));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.isTransient());
            assertTrue(
                    e.getMessage().contains("after 3 attempts")
                            && e.getMessage().contains("127.0.0.1:" + port)
                            && e.getMessage().contains("s3://test-bucket/results/x.gif")
                            && e.getMessage().contains(StoreConfig.ENV_ENDPOINT),
                    e.getMessage());
            assertTrue(ms >= 100 && ms < 5000, "two 50 ms backoffs, took " + ms + " ms");
        }
    }

    @Test
    void onDiskServerKeepsObjectsAcrossRestarts() throws Exception {
        Path dir = tmp.resolve("s3data");
        try (S3ProxyServer disk = S3ProxyServer.startOnDisk(dir);
                ObjectStore s = disk.newStore("disk-bucket")) {
            s.put("a/b.txt", "persisted".getBytes(StandardCharsets.UTF_8));
        }
        try (S3ProxyServer disk = S3ProxyServer.startOnDisk(dir);
                ObjectStore s = new ObjectStore(disk.config("disk-bucket"), RetryPolicy.NONE)) {
            assertEquals("persisted", s.getString("a/b.txt"));
        }
    }

    @Test
    void keysAreChecked() {
        for (String bad : List.of("", "/abs", "a//b", "a/../b", "..", "a/./b", "a\\b", "a\nb", "trailing/")) {
            assertThrows(IllegalArgumentException.class, () -> store.put(bad, new byte[1]), bad);
        }
        store.ensureBucket(); // idempotent
    }
}
