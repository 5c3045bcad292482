package dev.tollgate.bench;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.stream.SseEvent;
import dev.tollgate.metering.stream.SseFramer;
import dev.tollgate.metering.stream.StreamMeter;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the proxy does to every byte of a streamed answer: frame the SSE events, parse each one,
 * count its generated text with the model's tokenizer and pick up the usage fields (one framer and
 * one meter per stream, as in production). The baseline is the tokenizer alone over the same delta
 * texts, the part no implementation can skip. One op is one whole stream: events/s is
 * ops/s x (events + the few framing events), MB/s is ops/s x the stream's bytes (printed at setup).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SseMeteringBenchmark implements SseFramer.Sink {
    @Param({"openai-chat", "openai-responses", "anthropic"})
    public String stream;

    @Param({"200"})
    public int events;

    private StreamFixtures.Stream fixture;
    private EndpointFamily family;
    private TokenCounter counter;
    private final SseEvent event = new SseEvent();
    private StreamMeter meter;

    @Setup
    public void setUp() {
        fixture = StreamFixtures.of(stream, events);
        family = switch (stream) {
            case "openai-chat" -> EndpointFamily.CHAT_COMPLETIONS;
            case "openai-responses" -> EndpointFamily.RESPONSES;
            default -> EndpointFamily.MESSAGES;
        };
        counter = TokenCounter.forEncoding(stream.startsWith("openai") ? "o200k_base" : "cl100k_base");
        System.out.printf("%n%s: %d bytes per stream, %d content events%n", stream, fixture.bytes().length, events);
    }

    @Override
    public boolean event(byte[] bytes, int start, int end) {
        meter.onEvent(event.parse(bytes, start, end - start));
        return true;
    }

    @Benchmark
    public long frameParseAndMeter() {
        meter = StreamMeter.forFamily(family, counter, false);
        new SseFramer().frame(fixture.bytes(), 0, fixture.bytes().length, true, this);
        if (!meter.usageFinal()) {
            throw new IllegalStateException("the fixture's usage was not picked up");
        }
        return meter.outputTokensCounted();
    }

    /** Baseline: the tokenizer alone over the delta texts. */
    @Benchmark
    public long tokenizerOnly() {
        long tokens = 0;
        for (String delta : fixture.deltas()) {
            tokens += counter.count(delta);
        }
        return tokens;
    }
}
