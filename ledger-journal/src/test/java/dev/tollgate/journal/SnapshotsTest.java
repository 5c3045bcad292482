package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot whose counts or lengths are wrong but whose checksum matches (as a bug writing it would leave it) is refused
 * with a clear IOException and ignored: never an OutOfMemoryError, a huge allocation or an index exception.
 */
class SnapshotsTest {
    private static final byte[] EXTENSION = "the reconciler's rollups".getBytes(StandardCharsets.UTF_8);
    /** After the magic, lastIndex, maxReservationId and recordsApplied. */
    private static final int ACCOUNT_COUNT_OFFSET = 32;

    @TempDir
    Path directory;

    private byte[] written;
    private Path file;

    private void writeOne() throws IOException {
        LedgerState state = new LedgerState();
        state.restoreAccount("acme", 1_000, 200, 700, 100, 0);
        state.restoreKey(new LedgerState.Key("hash-1", "tg-abc", "ci", "acme", false));
        state.restorePosition(41, 7, 42);
        file = Snapshots.write(directory, state, EXTENSION);
        written = Files.readAllBytes(file);
        Snapshots.Loaded loaded = Snapshots.read(file);
        assertThat(loaded.extension()).isEqualTo(EXTENSION);
        assertThat(loaded.state().lastIndex()).isEqualTo(41);
    }

    private int extensionLengthOffset() {
        return written.length - 4 - EXTENSION.length - 4;
    }

    /** {@code bytes} with the int at {@code offset} replaced and the checksum made to match again. */
    private static byte[] withInt(byte[] bytes, int offset, int value) {
        byte[] changed = bytes.clone();
        ByteBuffer.wrap(changed).putInt(offset, value);
        return rechecksummed(changed);
    }

    private static byte[] rechecksummed(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        ByteBuffer.wrap(bytes).putInt(bytes.length - 4, (int) crc.getValue());
        return bytes;
    }

    private void assertRefused(byte[] bytes, String message) throws IOException {
        Files.write(file, bytes);
        assertThatThrownBy(() -> Snapshots.read(file)).isExactlyInstanceOf(IOException.class).hasMessageContaining(message);
        assertThat(Snapshots.latest(directory)).as("the only snapshot is ignored").isNull();
    }

    @Test
    void anExtensionLengthPastTheEndIsRefused() throws IOException {
        writeOne();
        int offset = extensionLengthOffset();
        assertThat(ByteBuffer.wrap(written).getInt(offset)).as("the field corrupted below").isEqualTo(EXTENSION.length);

        assertRefused(withInt(written, offset, Integer.MAX_VALUE), "corrupt extension length: 2147483647, with only " + EXTENSION.length + " bytes left");
        assertRefused(withInt(written, offset, EXTENSION.length + 1), "corrupt extension length: " + (EXTENSION.length + 1));
        assertRefused(withInt(written, offset, -1), "corrupt extension length: -1");
        assertRefused(withInt(written, offset, EXTENSION.length - 1), "1 bytes after the extension");
        // Cut inside the extension, checksum recomputed over what is left.
        byte[] cut = Arrays.copyOf(written, written.length - 3);
        assertRefused(rechecksummed(cut), "corrupt extension length: " + EXTENSION.length);
    }

    @Test
    void aCountPastTheEndIsRefused() throws IOException {
        writeOne();
        assertThat(ByteBuffer.wrap(written).getInt(ACCOUNT_COUNT_OFFSET)).as("the field corrupted below").isEqualTo(1);
        assertRefused(withInt(written, ACCOUNT_COUNT_OFFSET, Integer.MAX_VALUE), "corrupt account count: 2147483647");
        assertRefused(withInt(written, ACCOUNT_COUNT_OFFSET, -5), "corrupt account count: -5");
        // Within the bytes left, but more accounts than there are: the reading runs into the end of the file.
        // Where the misread ends depends on the sections after the accounts: a field cut off, or a count read from the wrong bytes.
        Files.write(file, withInt(written, ACCOUNT_COUNT_OFFSET, 3));
        assertThatThrownBy(() -> Snapshots.read(file)).isExactlyInstanceOf(IOException.class)
                .hasMessageMatching("(?s).*(ends in the middle of a field|corrupt .* count: -?[0-9]+, with only [0-9]+ bytes left).*");
        assertThat(Snapshots.latest(directory)).isNull();
    }
}
