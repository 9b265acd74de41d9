main :: IO ()
main = putStrLn undeclaredVariableXyz
