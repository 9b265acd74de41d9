// The class must be called Main (toolchains/java.json runs "Main"); it is not public, so
// the file may have any name.
class Main {
    public static void main(String[] args) {
        System.out.println("argc=" + args.length);
        for (String a : args)
            System.out.println("[" + a + "]");
    }
}
