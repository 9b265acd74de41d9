; Allocates 1 MB at a time, touches every page and keeps it alive, without end.
(let [kept (java.util.ArrayList.)]
  (loop [n 1]
    (let [b (byte-array (bit-shift-left 1 20))]
      (loop [i 0]
        (when (< i (alength b))
          (aset-byte b i (unchecked-byte n))
          (recur (+ i 4096))))
      (.add kept b)
      (when (zero? (mod n 64))
        (println (str n " MB")))
      (recur (inc n)))))
