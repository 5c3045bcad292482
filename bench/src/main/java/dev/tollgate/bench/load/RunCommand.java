package dev.tollgate.bench.load;

import dev.tollgate.bench.load.RequestTemplate.Surface;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** One open-loop run against any URL: for trying a rate by hand, outside the harness. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "One open-loop run at a fixed rate against a server (the mock, nginx, Tollgate), printing latency percentiles.")
final class RunCommand implements Callable<Integer> {

    @Option(names = "--url", required = true, description = "Base URL, e.g. http://127.0.0.1:8080")
    URI url;

    @Option(names = "--key", required = true, description = "The key to present (provider key, or a Tollgate key).")
    String key;

    @Option(names = "--rate", required = true, description = "Requests per second.")
    double rate;

    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup-seconds", defaultValue = "2", description = "Warm-up seconds before (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--surface", defaultValue = "mixed", description = "openai, anthropic or mixed (default: ${DEFAULT-VALUE}).")
    String surface;

    @Option(names = "--stream", description = "Ask for SSE streams.")
    boolean stream;

    @Option(names = "--events", defaultValue = "20", description = "Output tokens per answer (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--delay-ms", defaultValue = "0", description = "Pause between stream events, via [sim:delay-ms] (default: ${DEFAULT-VALUE}).")
    int delayMs;

    @Option(names = "--connections", defaultValue = "512", description = "Connection pool bound (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--threads", defaultValue = "1", description = "Client event loop threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() throws Exception {
        String hostHeader = url.getHost() + ":" + url.getPort();
        List<RequestTemplate> mix = templates(surface, stream, events, delayMs, hostHeader, key);
        LoadGenerator.Spec spec = new LoadGenerator.Spec("run", new InetSocketAddress(url.getHost(), url.getPort()), mix, rate,
                (long) (warmupSeconds * 1e9), (long) (seconds * 1e9), connections, 1 << 20, TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(5), List.of());
        try (LoadGenerator generator = new LoadGenerator(threads)) {
            LoadGenerator.Result result = generator.run(spec, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50));
            System.out.println(Report.describe(result));
            return result.clean() ? 0 : 1;
        }
    }

    static List<RequestTemplate> templates(String surface, boolean stream, int events, int delayMs, String hostHeader, String key) {
        List<RequestTemplate> mix = new ArrayList<>();
        if (!surface.equals("anthropic")) {
            mix.add(RequestTemplate.chat(Surface.OPENAI, stream, events, delayMs, hostHeader, key));
        }
        if (!surface.equals("openai")) {
            mix.add(RequestTemplate.chat(Surface.ANTHROPIC, stream, events, delayMs, hostHeader, key));
        }
        if (!List.of("openai", "anthropic", "mixed").contains(surface)) {
            throw new IllegalArgumentException("--surface must be openai, anthropic or mixed: " + surface);
        }
        return mix;
    }
}
