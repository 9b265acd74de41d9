import java.util.ArrayList;
import java.util.List;

// Allocates 1 MB at a time, touches every page and keeps it alive, without end.
class Main {
    public static void main(String[] args) {
        List<byte[]> kept = new ArrayList<>();
        for (long n = 1;; n++) {
            byte[] b = new byte[1 << 20];
            for (int i = 0; i < b.length; i += 4096)
                b[i] = (byte) n;
            kept.add(b);
            if (n % 64 == 0)
                System.out.println(n + " MB");
        }
    }
}
