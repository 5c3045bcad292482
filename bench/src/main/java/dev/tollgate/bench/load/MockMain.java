package dev.tollgate.bench.load;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the {@link MockProvider} as a process of its own, so that its CPU is never counted against the
 * proxy under test. Prints {@code mock: listening on http://HOST:PORT} once it accepts connections and
 * runs until it is killed (SIGTERM closes it).
 */
@Command(name = "mock", mixinStandardHelpOptions = true,
        description = "The load harness's mock OpenAI/Anthropic provider (pre-serialized answers).")
final class MockMain implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Listen address (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "0", description = "Port (default: a free one).")
    int port;

    @Option(names = "--threads", defaultValue = "1", description = "Event loop threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--key", required = true, description = "The provider key the mock demands.")
    String key;

    @Option(names = "--events", defaultValue = "20", description = "Output tokens per answer without [sim:events=N] (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--delay-ms", defaultValue = "0", description = "Pause between stream events without [sim:delay-ms=N] (default: ${DEFAULT-VALUE}).")
    int delayMs;

    @Override
    public Integer call() throws Exception {
        MockProvider mock = MockProvider.start(new MockProvider.Settings(host, port, threads, key, events, delayMs));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            mock.close();
            stopped.countDown();
        }, "mock-shutdown"));
        System.out.println("mock: listening on http://" + host + ":" + mock.port() + " with " + threads + " thread(s)");
        System.out.flush();
        stopped.await();
        return 0;
    }
}
