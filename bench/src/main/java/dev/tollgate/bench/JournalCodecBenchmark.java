package dev.tollgate.bench;

import dev.tollgate.journal.JournalCodec;
import dev.tollgate.journal.JournalEvent;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-record CPU cost of the journal layout, for a realistic settlement: encoding (validation,
 * UTF-8, checksum) on the append path, decoding (checksum, strings, validation again) on the replay
 * path, beside two JDK baselines over the same bytes: the CRC32C alone and a plain copy. Run with
 * {@code -prof gc} to see what each allocates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class JournalCodecBenchmark {
    /*
     * Distinct records in turn: with one record repeated, the branch predictor learns its strings
     * (a key hash's mix of digits and letters, say) and hides costs a real replay pays.
     */
    private static final int RECORDS = 1_024;
    private JournalEvent[] settlements;
    private byte[][] records;
    private int[] lengths;
    private ByteBuffer encodeBuffer;
    private ByteBuffer decodeBuffer;
    private byte[] copy;
    private int next;

    @Setup
    public void setUp() {
        Random random = new Random(7);
        settlements = new JournalEvent[RECORDS];
        records = new byte[RECORDS][];
        lengths = new int[RECORDS];
        encodeBuffer = ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH);
        for (int i = 0; i < RECORDS; i++) {
            settlements[i] = BenchEvents.settlement(random, 123_456 + i, 1_795_000_000_000L + i);
            lengths[i] = JournalCodec.encode(settlements[i], encodeBuffer);
            records[i] = java.util.Arrays.copyOf(encodeBuffer.array(), lengths[i]);
        }
        decodeBuffer = ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH);
        copy = new byte[JournalCodec.MAX_RECORD_LENGTH];
    }

    private int next() {
        return next = (next + 1) & (RECORDS - 1);
    }

    @Benchmark
    public int encodeSettled() {
        return JournalCodec.encode(settlements[next()], encodeBuffer);
    }

    @Benchmark
    public JournalEvent decodeSettled() {
        int i = next();
        decodeBuffer.clear();
        decodeBuffer.put(0, records[i]);
        return JournalCodec.decode(decodeBuffer, lengths[i]);
    }

    @Benchmark
    public long baselineCrc32c() {
        int i = next();
        CRC32C crc = new CRC32C();
        crc.update(records[i], 0, lengths[i] - JournalCodec.CHECKSUM_LENGTH);
        return crc.getValue();
    }

    @Benchmark
    public byte[] baselineCopy() {
        int i = next();
        System.arraycopy(records[i], 0, copy, 0, lengths[i]);
        return copy;
    }
}
