package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fuzzes the stream meters (chat and completions, Responses, Messages) with the bytes a provider streams, framed as
 * the relay frames them and cut where the network cuts them. Plain test runs replay
 * {@code StreamMeterFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 *
 * <p>Input layout, read from the end: the last byte picks the meter (low two bits: chat, completions, Responses,
 * Messages; bit 4: the client asked for usage itself), the 8 before it seed the cuts, the rest is the stream.
 */
class StreamMeterFuzzTest {
    private static final TokenCounter COUNTER = TokenCounter.forEncoding("o200k_base");
    private static final EndpointFamily[] FAMILIES = {
            EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.COMPLETIONS, EndpointFamily.RESPONSES, EndpointFamily.MESSAGES};

    /** The result of metering one stream: everything billing reads from a meter. */
    private record Metered(Usage usage, boolean reported, long outputTokensCounted, boolean providerError, boolean completed,
                           long malformedEvents, List<StreamMeter.Verdict> verdicts) {
    }

    /**
     * Whatever a provider streams: the meter never fails on it (no exception of its own), nothing it counts or reads
     * is negative, and what it reads does not depend on where the network cut the bytes.
     */
    @FuzzTest
    void meteringIsTheSameHoweverTheStreamIsCutAndNeverFails(FuzzedDataProvider data) {
        int selector = data.consumeByte() & 0xFF;
        EndpointFamily family = FAMILIES[selector & 3];
        boolean clientAskedForUsage = (selector & 0x10) != 0;
        FuzzInput input = FuzzInput.of(data);
        byte[] stream = input.stream();

        Metered whole = meter(family, clientAskedForUsage, List.of(stream));
        List<byte[]> pieces = new ArrayList<>();
        for (int from = 0; from < stream.length; ) {
            int length = Math.min(stream.length - from, Math.max(1, input.nextChunkLength()));
            pieces.add(Arrays.copyOfRange(stream, from, from + length));
            from += length;
        }
        Metered cut = meter(family, clientAskedForUsage, pieces);

        assertThat(cut).as(family + ": metered the same however cut").isEqualTo(whole);
        assertThat(cut.outputTokensCounted()).isNotNegative();
        assertThat(cut.usage().promptTokens()).isNotNegative();
        assertThat(cut.usage().outputTokens()).isNotNegative();
        assertThat(cut.malformedEvents()).isNotNegative();
    }

    /** Frames {@code pieces} as the relay does (bytes kept until a whole event is there) and meters each event. */
    private static Metered meter(EndpointFamily family, boolean clientAskedForUsage, List<byte[]> pieces) {
        StreamMeter meter = StreamMeter.forFamily(family, COUNTER, clientAskedForUsage);
        SseFramer framer = new SseFramer();
        SseEvent event = new SseEvent();
        List<StreamMeter.Verdict> verdicts = new ArrayList<>();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (int i = 0; i < pieces.size(); i++) {
            pending.writeBytes(pieces.get(i));
            byte[] bytes = pending.toByteArray();
            int next = framer.frame(bytes, 0, bytes.length, i == pieces.size() - 1, (buffer, start, end) -> {
                verdicts.add(meter.onEvent(event.parse(buffer, start, end - start)));
                return true;
            });
            pending.reset();
            pending.write(bytes, next, bytes.length - next);
        }
        if (pieces.isEmpty()) {
            framer.frame(new byte[0], 0, 0, true, (buffer, start, end) -> true);
        }
        assertThat(meter.meterFaults()).as(family + ": events the meter itself failed on").isZero();
        Usage usage = meter.usage().toUsage(family, 7, meter.outputTokensCounted());
        return new Metered(usage, meter.usageFinal() && meter.usage().complete(family), meter.outputTokensCounted(),
                meter.providerError() != null, meter.completed(), meter.malformedEvents(), verdicts);
    }
}
