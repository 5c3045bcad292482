package dev.tollgate.metering.stream;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import java.util.SplittableRandom;

/**
 * A fuzz input read as bytes that arrive in pieces: its last 8 bytes seed where the pieces are
 * cut (the fuzzer mutates them like any other byte), the rest is the body. So a recorded stream
 * with 8 bytes appended is a seed input, and a crash replays with the same cuts.
 */
final class FuzzInput {
    private final byte[] stream;
    private final SplittableRandom cuts;

    private FuzzInput(byte[] stream, long cutSeed) {
        this.stream = stream;
        this.cuts = new SplittableRandom(cutSeed);
    }

    /** Takes the cut seed from the end of the input (as {@link FuzzedDataProvider} reads integers) and the body from the rest. */
    static FuzzInput of(FuzzedDataProvider data) {
        long cutSeed = data.consumeLong();
        return new FuzzInput(data.consumeRemainingAsBytes(), cutSeed);
    }

    byte[] stream() {
        return stream;
    }

    /** The length of the next piece: mostly small (cuts inside lines, CRLFs and UTF-8 sequences), sometimes large. */
    int nextChunkLength() {
        // Rare large pieces: a recorded stream is a few KiB, and cuts are what find the bugs.
        return switch (cuts.nextInt(8)) {
            case 0 -> cuts.nextInt(3);
            case 7 -> cuts.nextInt(1024);
            default -> cuts.nextInt(24);
        };
    }

    /** Bytes before (or after) the data in a buffer: the proxy's buffers rarely start at index 0. */
    int nextOffset() {
        return cuts.nextInt(8);
    }
}
