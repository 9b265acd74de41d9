class Main {
    public static void main(String[] args) {
        System.out.println("before exit");
        System.exit(3);
    }
}
