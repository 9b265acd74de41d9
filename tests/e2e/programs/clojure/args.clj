(println (str "argc=" (count *command-line-args*)))
(doseq [a *command-line-args*]
  (println (str "[" a "]")))
