package dev.tollgate.proxy;

import dev.tollgate.proxy.listener.TollgateServer;

import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A simulated provider with Tollgate in front of it, in this JVM, for end-to-end tests over real sockets. */
final class ProxyStack implements AutoCloseable {
    final SimulatedProvider sim;
    final TestGateways test;
    final TollgateServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    ProxyStack(long balanceMicros) throws InterruptedException {
        this(balanceMicros, Limits.defaults(), SimulatedProvider.Settings.defaults());
    }

    ProxyStack(long balanceMicros, Limits limits, SimulatedProvider.Settings simSettings) throws InterruptedException {
        this(balanceMicros, limits, simSettings, dev.tollgate.config.Durability.PAGE_CACHE);
    }

    ProxyStack(long balanceMicros, Limits limits, SimulatedProvider.Settings simSettings, dev.tollgate.config.Durability durability)
            throws InterruptedException {
        sim = SimulatedProvider.start(simSettings);
        test = new TestGateways(sim.baseUrl(), balanceMicros, limits, durability);
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    HttpResponse<String> postOpenAi(String path, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .header("authorization", "Bearer " + test.key)
                .header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> postAnthropic(String path, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .header("x-api-key", test.key)
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Waits until {@code count} outcomes were published (some end after the client has its response). */
    List<Outcome> awaitOutcomes(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (test.outcomes.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return new ArrayList<>(test.outcomes);
    }

    @Override
    public void close() {
        server.close();
        sim.close();
        test.close();
    }
}
