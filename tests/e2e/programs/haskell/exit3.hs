import System.Exit

main :: IO ()
main = do
  putStrLn "before exit"
  exitWith (ExitFailure 3)
