(println "Hello"
(defn f [x] (+ x 1)
