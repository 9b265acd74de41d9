-- Allocates 1 MB byte strings (memset by replicate) and keeps them all
-- reachable through an IORef.
import Control.Monad (forM_)
import qualified Data.ByteString as B
import Data.IORef

main :: IO ()
main = do
  ref <- newIORef []
  forM_ [1 :: Int ..] $ \i -> do
    let block = B.replicate (1024 * 1024) (fromIntegral i)
    block `seq` modifyIORef' ref (block :)
  blocks <- readIORef ref
  print (length blocks)
