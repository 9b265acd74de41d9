import System.Environment (getArgs)

main :: IO ()
main = do
  args <- getArgs
  putStrLn ("argc=" ++ show (length args))
  mapM_ (\a -> putStrLn ("[" ++ a ++ "]")) args
